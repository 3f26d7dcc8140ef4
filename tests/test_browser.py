"""The web app in a real browser: Debian's chromium driven by Playwright.

The helpers here are shared by the other browser test modules: one browser per module,
a fresh context (cookies, storage) per user, and the page's own clock, timers, sound,
notifications and idle state under the test's control where a test needs them."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    WebSocketRoute,
    expect,
)

from liaison.store.models import LoginThrottle
from tests.conftest import CHROMIUM, PASSWORD, SAFETY_SECONDS, Server

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
SCREENSHOTS = os.environ.get("LIAISON_SCREENSHOTS")  # a folder: tests save the main views there
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 320, "height": 640}
WCAG = "{runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'], resultTypes: ['violations']}"
# An assertion on the page waits until the page gets there; the bound only ends a test that
# never would. Playwright's 5 s default failed tests whose page was merely slow to get
# there on a loaded machine (an import child starting, under a load average of 20).
expect.set_options(timeout=SAFETY_SECONDS * 1000)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]

# The browser's own attention channels, made observable: sounds played, system
# notifications shown, and an Idle Detection API the test drives (the real one needs a
# real desktop session). Installed before the page's scripts run.
OBSERVED = """
window.__sounds = 0;
window.__notifications = [];
window.__permissionRequests = {notification: 0, idle: 0};
const RealAudio = window.AudioContext;
window.AudioContext = class extends RealAudio {
  createOscillator() { window.__sounds += 1; return super.createOscillator(); }
};
class FakeNotification {
  constructor(title, options) { window.__notifications.push({title, body: options?.body || ""}); }
  close() {}
  static get permission() { return window.__notificationPermission || "default"; }
  static requestPermission() {
    window.__permissionRequests.notification += 1;
    window.__notificationPermission = "granted";
    return Promise.resolve("granted");
  }
}
window.Notification = FakeNotification;
window.__idle = null;
window.__idlePermission = "prompt";
class FakeIdleDetector extends EventTarget {
  constructor() { super(); this.userState = "active"; this.screenState = "unlocked"; window.__idle = this; }
  async start() {}
  static async requestPermission() {
    window.__permissionRequests.idle += 1;
    window.__idlePermission = "granted";
    return "granted";
  }
}
window.IdleDetector = FakeIdleDetector;
const realQuery = navigator.permissions.query.bind(navigator.permissions);
navigator.permissions.query = (d) =>
  d && d.name === "idle-detection" ? Promise.resolve({state: window.__idlePermission}) : realQuery(d);
"""


async def logged_in(
    browser: Browser,
    server: Server,
    username: str,
    viewport: dict[str, int] | None = None,
    language: str | None = None,
    observed: bool = False,
    before: Any = None,
    clock: bool = False,
) -> tuple[BrowserContext, Page]:
    """A new browser context, logged in as this user, on the directory.

    `observed` installs the attention stubs above; `before(context)` runs before the
    first page loads (routing the WebSocket, say); `clock` gives the page a clock the test
    moves (`page.clock.fast_forward`), from before its first timer."""
    context = await browser.new_context(base_url=server.url, viewport=viewport or DESKTOP)
    # Logged in over HTTP, the session handed to the browser: the login page costs
    # chromium a renderer and a second page load per user (about 0.5 CPU-s), and has tests
    # of its own (test_keyboard_only_login_search_and_a_person, tests/test_accounts.py).
    login = await server.client(username)
    cookies = dict(login.http.cookies.items())
    await login.close()
    if language:
        cookies["liaison_lang"] = language
    await context.add_cookies(
        [{"name": name, "value": value, "url": server.url} for name, value in cookies.items()]
    )
    if observed:
        await context.add_init_script(OBSERVED)
    if before is not None:
        await before(context)
    page = await context.new_page()
    if clock:
        await page.clock.install()
    await page.goto("/")
    await expect(page.locator("#people-list .person").first).to_be_visible()
    await connected(page)
    return context, page


async def connected(page: Page) -> None:
    """Until the page's WebSocket has had its welcome."""
    await expect(page.locator('body[data-connection="online"]')).to_have_count(1)


def person_row(page: Page, name: str) -> Any:
    return page.locator("#people-list .person").filter(has_text=name)


async def shot(page: Page, name: str, full_page: bool = False) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=full_page)


async def audit(page: Page, where: str) -> None:
    """axe-core's WCAG 2.1 A and AA rules: no violation of any impact."""
    # axe is 600 KB of script: loaded once per page (the workspace keeps its page).
    if await page.evaluate("typeof window.axe") == "undefined":
        await page.evaluate(AXE)
    result: dict[str, Any] = await page.evaluate(f"axe.run(document, {WCAG})")
    problems = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})"
        for v in result["violations"]
    ]
    assert not problems, f"{where}: {problems}"


async def go(page: Page, path: str) -> None:
    """Moves inside the workspace as a click on a link would (the socket stays)."""
    await page.evaluate(
        "(path) => { const a = document.createElement('a'); a.href = path;"
        " document.body.append(a); a.click(); a.remove(); }",
        path,
    )
    await expect(page).to_have_url(re.compile(re.escape(path) + "$"))


# ---------------------------------------------------------------- the tests of this module


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
    await expect(aino).to_have_url(re.compile(r"/conversations/\d+$"))
    await aino.get_by_label("Viesti", exact=True).fill("Hei, onko asumistuen päätös jo tehty?")
    await aino.get_by_label("Viesti", exact=True).press("Enter")
    await expect(aino.locator("#message-list .message")).to_have_count(1)
    # Bertil sees the conversation with one unread, opens it, answers.
    await expect(bertil.locator("#unread-badge")).to_have_text("1")
    await expect(bertil).to_have_title("(1) Liaison")
    await bertil.get_by_role("link", name=re.compile("Keskustelut")).click()
    conversation = bertil.locator("#conversation-list .conversation-button").filter(has_text="Aino")
    await expect(conversation.locator(".unread")).to_contain_text("1")
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
    # The back button leaves the conversation for the directory, in the same page.
    key = await aino.evaluate("window.liaison.connection()")
    await aino.go_back()
    await expect(aino.get_by_role("heading", name="Hakemisto", level=1)).to_be_visible()
    assert await aino.evaluate("window.liaison.connection()") == key
    await aino.go_forward()
    await expect(aino.locator("#message-list")).to_contain_text("se lähti eilen")


async def test_messages_sent_while_offline_arrive_after_reconnect(
    browser: Browser, server: Server
) -> None:
    _, aino = await logged_in(browser, server, "aino")
    network_down = False

    async def network(ws: WebSocketRoute) -> None:
        if network_down:
            await ws.close(code=1006)
        else:
            ws.connect_to_server()

    async def routed(context: BrowserContext) -> None:
        await context.route_web_socket(re.compile(r"/ws$"), network)

    _, bertil = await logged_in(browser, server, "bertil", before=routed)
    await bertil.clock.install()  # the reconnect back-off is moved by the test
    await (
        person_row(aino, "Bertil Bostad")
        .get_by_role("button", name=re.compile("Lähetä viesti"))
        .click()
    )
    await aino.get_by_label("Viesti", exact=True).fill("Ensimmäinen")
    await aino.get_by_label("Viesti", exact=True).press("Enter")
    await go(bertil, "/conversations")
    await bertil.locator("#conversation-list .conversation-button").filter(has_text="Aino").click()
    await expect(bertil.locator("#message-list")).to_contain_text("Ensimmäinen")
    # The network goes: the server loses the connection and new attempts fail meanwhile.
    network_down = True
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
    await go(page, "/me")
    await page.get_by_label("Kieli").select_option("sv")
    await page.get_by_role("button", name="Vaihda").click()
    # The same view, now in Swedish.
    await expect(page.get_by_role("heading", name="Min profil", level=1)).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "sv")
    await page.get_by_label("Språk").select_option("en")
    await page.get_by_role("button", name="Byt").click()
    await expect(page.get_by_role("heading", name="My profile", level=1)).to_be_visible()
    # Remembered: a fresh load of the directory is in English too.
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Directory", level=1)).to_be_visible()


@pytest.mark.long
async def test_admin_imports_a_directory_file_and_manages_accounts(
    browser: Browser, server: Server, tmp_path: Path
) -> None:
    _, page = await logged_in(browser, server, "admin")
    await page.get_by_role("link", name="Ylläpito").click()
    good = tmp_path / "yhteystiedot.csv"
    good.write_text(
        "Kelan yhteystiedot;;;;;\n"
        "sähköposti;etunimi;sukunimi;organisaatio;rooli;huone\n"
        "pekka@kela.example;Pekka;Puhelin;Kela;ratkaisuasiantuntija;B 204\n",
        encoding="utf-8",
    )
    bad = tmp_path / "virheellinen.csv"
    bad.write_text(
        "sähköposti;etunimi;sukunimi;organisaatio;rooli\n"
        "virheellinen-osoite;Virhe;Rivi;Kela;astronautti\n",
        encoding="utf-8",
    )
    await page.get_by_label("Tiedosto (CSV tai XLSX)").set_input_files(str(bad))
    await page.get_by_role("button", name="Tuo", exact=True).click()
    errors = page.locator("#import-report table")
    # Each problem in the reader's language, with the file's own words in it.
    await expect(errors).to_contain_text("tuntematon arvo 'astronautti' sarakkeessa roles")
    await expect(errors).to_contain_text("'virheellinen-osoite' ei ole sähköpostiosoite")
    await expect(page.locator("#import-report")).to_contain_text("mitään ei muutettu")
    await page.get_by_label("Tiedosto (CSV tai XLSX)").set_input_files(str(good))
    await page.get_by_role("button", name="Tuo", exact=True).click()
    await expect(page.locator("#import-report")).to_contain_text("Koeajo")
    # What reading skipped is in the report: the title line and the unknown column.
    await expect(page.locator("#import-report")).to_contain_text("ohitetut otsikkorivit: 1")
    await expect(page.locator("#import-report")).to_contain_text(
        "Tuntemattomat sarakkeet, ei luettu: huone"
    )
    await page.get_by_text("Tiedoston muoto").click()
    await expect(page.locator("#import-format")).to_contain_text("förnamn")
    await page.get_by_label(re.compile("Koeajo")).uncheck()
    await page.get_by_role("button", name="Tuo", exact=True).click()
    await expect(page.locator("#import-report")).to_contain_text("Tuotu")
    await shot(page, "admin-import")
    # An account for the new person: found by name, created, listed.
    await page.get_by_label("Henkilö", exact=True).fill("pekka")
    await page.get_by_role("button", name="Pekka Puhelin").click()
    await page.get_by_label("Käyttäjätunnus").fill("pekka")
    await page.get_by_label(re.compile("Alkusalasana")).fill("pekan-salasana")
    await page.get_by_role("button", name="Luo käyttäjätili").click()
    await expect(page.locator("#account-notice")).to_contain_text("Käyttäjätili on luotu")
    await expect(page.locator("#account-list")).to_contain_text("Pekka Puhelin")
    await page.get_by_role("link", name="Hakemisto").click()
    await page.get_by_label(re.compile("Hae nimellä")).fill("pekka")
    await expect(page.locator("#people-list .person")).to_have_count(1)


async def test_admin_lifts_a_login_lock_and_reads_the_audit_log(
    browser: Browser, server: Server
) -> None:
    # Daniel's username is locked (docs/accounts.md) before the admin opens the view.
    async with server.core.db.begin() as db:
        db.add(
            LoginThrottle(
                kind="username",
                key="daniel",
                failures=20,
                last_failure_at=server.clock.now(),
                locked_until=server.clock.now() + timedelta(minutes=15),
            )
        )
    _, page = await logged_in(browser, server, "admin")
    await page.get_by_role("link", name="Ylläpito").click()
    await expect(page.locator("#lock-list")).to_contain_text("Käyttäjätunnus daniel")
    await expect(page.locator("#audit-list")).to_contain_text("Kirjautui sisään")
    await page.get_by_role("button", name="Poista lukitus: daniel").click()
    await expect(page.locator("#lock-notice")).to_contain_text("Lukitus poistettiin: daniel")
    await expect(page.locator("#lock-empty")).to_be_visible()
    await expect(page.locator("#audit-list tr").first).to_contain_text("Lukitus poistettu")
    assert await server.core.logins.locks() == []


async def test_keyboard_only_login_search_and_a_person(browser: Browser, server: Server) -> None:
    context = await browser.new_context(base_url=server.url, viewport=DESKTOP)
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
    await expect(page).to_have_url(re.compile(rf"/people/{server.people['bertil']}$"))
    card = page.locator("#view-person")
    await expect(card).to_contain_text("Ratkaisuasiantuntija")
    # Focus is on the person's name, and back goes back to the search.
    await expect(page.get_by_role("heading", name="Bertil Bostad", level=1)).to_be_focused()
    await page.go_back()
    await expect(page.locator("#people-list .person")).to_have_count(1)
    await context.close()
