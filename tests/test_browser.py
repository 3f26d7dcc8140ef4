"""The web app in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    WebSocketRoute,
    async_playwright,
    expect,
)

from tests.conftest import PASSWORD, Server

CHROMIUM = os.environ.get("LIAISON_CHROMIUM", "/usr/bin/chromium")
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
SCREENSHOTS = os.environ.get("LIAISON_SCREENSHOTS")  # a folder: tests save the main views there

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        await browser.close()


async def logged_in(browser: Browser, server: Server, username: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(
        base_url=server.url, viewport={"width": 1400, "height": 900}
    )
    page = await context.new_page()
    await page.goto("/")
    await page.get_by_label("Käyttäjätunnus").fill(username)
    await page.get_by_label("Salasana").fill(PASSWORD)
    await page.get_by_role("button", name="Kirjaudu sisään").click()
    await expect(page.locator("#people-list .person").first).to_be_visible()
    return context, page


def person_row(page: Page, name: str) -> Any:
    return page.locator("#people-list .person").filter(has_text=name)


async def shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=f"{SCREENSHOTS}/{name}.png")


async def test_presence_of_a_colleague_changes_live(browser: Browser, server: Server) -> None:
    _, aino = await logged_in(browser, server, "aino")
    bertil_row = person_row(aino, "Bertil Bostad")
    await expect(bertil_row.locator(".presence")).to_have_text(re.compile("Ei paikalla"))
    bertil_context, bertil = await logged_in(browser, server, "bertil")
    await expect(bertil_row.locator(".presence")).to_have_text("Tavoitettavissa")
    await bertil.get_by_label("Oma tila").select_option("dnd")
    await expect(bertil_row.locator(".presence")).to_have_text(re.compile("Älä häiritse"))
    await bertil.get_by_label("Oma tila").select_option("available")
    await expect(bertil_row.locator(".presence")).to_have_text("Tavoitettavissa")
    await bertil_context.close()
    await server.gone("bertil")
    await server.advance(1)  # the grace period for reloads
    await expect(bertil_row.locator(".presence")).to_have_text(re.compile("Ei paikalla"))


async def test_two_people_chat(browser: Browser, server: Server) -> None:
    _, aino = await logged_in(browser, server, "aino")
    _, bertil = await logged_in(browser, server, "bertil")
    await (
        person_row(aino, "Bertil Bostad")
        .get_by_role("button", name=re.compile("Lähetä viesti"))
        .click()
    )
    await aino.get_by_label("Viesti", exact=True).fill("Hei, onko asumistuen päätös jo tehty?")
    await aino.get_by_label("Viesti", exact=True).press("Enter")
    await expect(aino.locator("#message-list .message")).to_have_count(1)
    # Bertil sees the conversation with one unread, opens it, answers.
    conversation = bertil.locator("#conversation-list .conversation-button").filter(has_text="Aino")
    await expect(conversation.locator(".unread")).to_contain_text("1")
    await expect(bertil).to_have_title("(1) Liaison")
    await conversation.click()
    await expect(bertil.locator("#message-list")).to_contain_text("onko asumistuen päätös")
    await expect(bertil).to_have_title("Liaison")
    await bertil.get_by_label("Viesti", exact=True).fill(
        "Kyllä, se lähti eilen. https://example.org/ohje"
    )
    await bertil.get_by_role("button", name="Lähetä", exact=True).click()
    await expect(aino.locator("#message-list")).to_contain_text("se lähti eilen")
    link = aino.locator("#message-list a")
    await expect(link).to_have_attribute("href", "https://example.org/ohje")
    await shot(aino, "chat")


async def test_messages_sent_while_offline_arrive_after_reconnect(
    browser: Browser, server: Server
) -> None:
    _, aino = await logged_in(browser, server, "aino")
    bertil_context, bertil = await logged_in(browser, server, "bertil")
    await bertil.clock.install()  # the reconnect back-off is moved by the test
    await (
        person_row(aino, "Bertil Bostad")
        .get_by_role("button", name=re.compile("Lähetä viesti"))
        .click()
    )
    await aino.get_by_label("Viesti", exact=True).fill("Ensimmäinen")
    await aino.get_by_label("Viesti", exact=True).press("Enter")
    await bertil.locator("#conversation-list .conversation-button").filter(has_text="Aino").click()
    await expect(bertil.locator("#message-list")).to_contain_text("Ensimmäinen")
    # The network goes: the server loses the connection and new attempts fail meanwhile.
    network_down = True

    async def network(ws: WebSocketRoute) -> None:
        if network_down:
            await ws.close(code=1006)
        else:
            ws.connect_to_server()

    await bertil_context.route_web_socket(re.compile(r"/ws$"), network)
    for connection in server.core.hub.connections_of(server.people["bertil"]):
        connection.close(1012, "network failure")
    await expect(bertil.locator("#connection-banner")).to_be_visible()
    for text in ("Toinen", "Kolmas"):
        await aino.get_by_label("Viesti", exact=True).fill(text)
        await aino.get_by_label("Viesti", exact=True).press("Enter")
    await expect(aino.locator("#message-list .message")).to_have_count(3)
    await expect(bertil.locator("#message-list .message")).to_have_count(1)
    network_down = False
    await bertil.clock.fast_forward(16_000)  # past the longest back-off (15 s)
    await expect(bertil.locator("#message-list .message")).to_have_count(3)
    await expect(bertil.locator("#message-list")).to_contain_text("Kolmas")
    await expect(bertil.locator("#connection-banner")).to_be_hidden()


async def test_switching_language(browser: Browser, server: Server) -> None:
    _, page = await logged_in(browser, server, "aino")
    await expect(page.get_by_role("heading", name="Hakemisto")).to_be_visible()
    await page.get_by_label("Kieli").select_option("sv")
    await page.get_by_role("button", name="Vaihda").click()
    await expect(page.get_by_role("heading", name="Katalog")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "sv")
    await page.get_by_label("Språk").select_option("en")
    await page.get_by_role("button", name="Byt").click()
    await expect(page.get_by_role("heading", name="Directory")).to_be_visible()
    # Remembered: the profile page is in English too.
    await page.goto("/me")
    await expect(page.get_by_role("heading", name="My profile")).to_be_visible()


async def test_admin_imports_a_directory_file(
    browser: Browser, server: Server, tmp_path: Path
) -> None:
    _, page = await logged_in(browser, server, "admin")
    await page.get_by_role("link", name="Ylläpito").click()
    good = tmp_path / "yhteystiedot.csv"
    good.write_text(
        "sähköposti;etunimi;sukunimi;organisaatio;rooli\n"
        "pekka@kela.example;Pekka;Puhelin;Kela;ratkaisuasiantuntija\n",
        encoding="utf-8",
    )
    await page.get_by_label("Tiedosto (CSV tai XLSX)").set_input_files(str(good))
    await page.get_by_role("button", name="Tuo", exact=True).click()
    await expect(page.locator("#import-report")).to_contain_text("Koeajo")
    await page.get_by_label("Tiedosto (CSV tai XLSX)").set_input_files(str(good))
    await page.get_by_label(re.compile("Koeajo")).uncheck()
    await page.get_by_role("button", name="Tuo", exact=True).click()
    await expect(page.locator("#import-report")).to_contain_text("Tuotu")
    await shot(page, "admin-import")
    await page.goto("/")
    await page.get_by_label(re.compile("Hae nimellä")).fill("pekka")
    await expect(page.locator("#people-list .person")).to_have_count(1)


async def test_keyboard_only_login_search_and_profile(browser: Browser, server: Server) -> None:
    context = await browser.new_context(base_url=server.url)
    page = await context.new_page()
    await page.goto("/login")
    await expect(page.get_by_label("Käyttäjätunnus")).to_be_focused()  # autofocus
    await page.keyboard.type("cecilia")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator("#people-list .person").first).to_be_visible()
    await page.get_by_label(re.compile("Hae nimellä")).focus()
    await page.keyboard.type("bertil")
    await expect(page.locator("#people-list .person")).to_have_count(1)
    for _ in range(12):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.classList.contains('person-name')"):
            break
    await page.keyboard.press("Enter")
    dialog = page.locator("#person-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Ratkaisuasiantuntija")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()


async def test_main_views_pass_an_accessibility_audit(browser: Browser, server: Server) -> None:
    """axe-core's WCAG 2.1 A and AA rules, on the main views, in every language."""
    context, page = await logged_in(browser, server, "admin")
    await shot(page, "directory")
    for path in ("/", "/me", "/admin", f"/people/{server.people['bertil']}"):
        await page.goto(path)
        await page.wait_for_load_state("networkidle")
        result = await page.evaluate(
            AXE + "\n;axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
        )
        problems = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})"
            for v in result["violations"]
        ]
        assert not problems, f"{path}: {problems}"
        if path == "/me":
            await shot(page, "profile")
    await context.close()
    login_context = await browser.new_context(base_url=server.url)
    login = await login_context.new_page()
    await login.goto("/login")
    await shot(login, "login")
    result = await login.evaluate(AXE + "\n;axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
    assert not result["violations"], result["violations"]
