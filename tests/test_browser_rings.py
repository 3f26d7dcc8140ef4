"""Rings in a real browser: sign in, ask, the offer rings, accept, chat, close, the log."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.conftest import Server
from tests.test_browser import AXE, browser, logged_in, pytestmark, shot  # noqa: F401
from tests.test_rings import config, valid_code, with_rings

WCAG = "{runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}"


async def audit(page: Page, where: str) -> None:
    result: dict[str, Any] = await page.evaluate(f"{AXE}\n;axe.run(document, {WCAG})")
    problems = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})"
        for v in result["violations"]
    ]
    assert not problems, f"{where}: {problems}"


async def sign_in_to_ring(page: Page, ring_name: str) -> None:
    ring = page.locator("#ring-list .ring").filter(has_text=ring_name)
    await ring.get_by_label(re.compile("Kirjautuneena")).check()
    await expect(ring).to_contain_text("Vapaana: 1/1")
    await expect(page.locator("#ring-announcer")).to_contain_text("Olet kirjautunut rinkiin")


async def test_a_question_through_a_ring_from_asking_to_the_log(
    browser: Browser,  # noqa: F811
    server: Server,
) -> None:
    await with_rings(server)
    code = valid_code()
    _, bertil = await logged_in(browser, server, "bertil")
    await sign_in_to_ring(bertil, "Yleinen asumistuki")

    _, aino = await logged_in(browser, server, "aino")
    housing = aino.locator("#ring-list .ring").filter(has_text="Yleinen asumistuki")
    await expect(housing).to_contain_text("Vapaana: 1/1")
    # Aino is no member: no sign-in control for her.
    await expect(housing.get_by_role("checkbox")).to_have_count(0)
    await aino.get_by_role("button", name="Kysy ringiltä").click()
    dialog = aino.locator("#ask-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Rinki").select_option("housing")
    await dialog.get_by_label(re.compile("^Kysymys")).fill("Onko tulorajassa huomioitu asumistuki?")
    await dialog.get_by_label("Asiakkaan henkilötunnus (valinnainen)").fill("010190-1234")
    await dialog.get_by_label("Asiakas läsnä").check()
    await audit(aino, "ask dialog")
    await shot(aino, "ask-dialog")
    # An invalid code is refused in the dialog, which stays open.
    await dialog.get_by_role("button", name="Lähetä").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("Henkilötunnus ei ole kelvollinen")
    await dialog.get_by_label("Asiakkaan henkilötunnus (valinnainen)").fill(code)
    await dialog.get_by_role("button", name="Lähetä").click()
    await expect(dialog).to_be_hidden()
    card = aino.locator("#question-list .question-card")
    await expect(card).to_contain_text("Onko tulorajassa")

    # Bertil's page rings.
    offer = bertil.locator("#offer-dialog")
    await expect(offer).to_be_visible()
    await expect(offer).to_contain_text("Aino Asiantuntija")
    await expect(offer).to_contain_text("Onko tulorajassa huomioitu asumistuki?")
    await expect(offer).to_contain_text("AR-")
    await expect(offer.get_by_role("button", name="Ota vastaan")).to_be_focused()
    await shot(bertil, "offer")
    await audit(bertil, "offer")
    await offer.get_by_role("button", name="Ota vastaan").click()
    await expect(offer).to_be_hidden()

    # Both are in the consultation's conversation, with the bar above the chat.
    for page in (bertil, aino):
        bar = page.locator("#consultation-bar")
        await expect(bar).to_be_visible()
        await expect(bar).to_contain_text("AR-")
        await expect(bar).to_contain_text("Asiakas läsnä")
        await expect(page.locator("#chat-heading")).to_contain_text("Yleinen asumistuki")
    await expect(card).to_contain_text("Bertil Bostad")
    await expect(bertil.get_by_label("Viesti", exact=True)).to_be_focused()
    await aino.get_by_label("Viesti", exact=True).fill("Asiakas on tässä vieressä.")
    await aino.get_by_label("Viesti", exact=True).press("Enter")
    await expect(bertil.locator("#message-list")).to_contain_text("Asiakas on tässä vieressä.")
    await bertil.get_by_label("Viesti", exact=True).fill("Kyllä on, tarkistin.")
    await bertil.get_by_label("Viesti", exact=True).press("Enter")
    await expect(aino.locator("#message-list")).to_contain_text("Kyllä on, tarkistin.")
    # The answered question has left the queue, on every page.
    for page in (aino, bertil):
        ring = page.locator("#ring-list .ring").filter(has_text="Yleinen asumistuki")
        await expect(ring).to_contain_text("Jonossa: 0")
    await shot(bertil, "consultation")
    await audit(bertil, "consultation bar")

    # Bertil closes it with the outcome and the topic.
    bar = bertil.locator("#consultation-bar")
    await bar.get_by_label("Lopputulos").select_option("answered")
    await bar.get_by_label("Aihe").select_option("clients_situation")
    await bar.get_by_role("button", name="Sulje yhteydenotto").click()
    await expect(bar).to_be_hidden()
    await expect(aino.locator("#consultation-bar")).to_be_hidden()
    await expect(card).to_have_count(0)

    # The code itself is nowhere in either page.
    for page in (aino, bertil):
        assert code not in await page.content()

    # Aino's log has the record with the client reference, not the code.
    await aino.get_by_role("link", name="Yhteydenottoloki").click()
    await expect(aino.get_by_role("heading", name="Yhteydenottoloki")).to_be_visible()
    row = aino.locator("#log-body tr").first
    await expect(row).to_contain_text("AR-")
    await expect(row).to_contain_text("Vastattu")
    await expect(row).to_contain_text("Asiakkaan tilanne")
    await expect(row).to_contain_text("Bertil Bostad")
    await expect(row).to_contain_text("Asiakas läsnä")
    assert code not in await aino.content()
    # "Has someone already looked at this client?"
    await aino.get_by_label("Asiakkaan henkilötunnus").fill(code)
    await aino.get_by_role("button", name="Hae").click()
    result = aino.locator("#lookup-result")
    await expect(result).to_contain_text("aiempia yhteydenottoja: 1")
    await expect(result).to_contain_text("AR-")
    assert code not in await aino.content()
    await aino.wait_for_load_state("networkidle")
    await shot(aino, "log")
    await audit(aino, "/log")


async def test_a_timed_out_question_becomes_a_callback_in_one_click(
    browser: Browser,  # noqa: F811
    server: Server,
) -> None:
    await with_rings(server, config(queue_timeout_seconds=2))
    _, cecilia = await logged_in(browser, server, "cecilia")
    await cecilia.get_by_role("button", name="Kysy ringiltä").click()
    dialog = cecilia.locator("#ask-dialog")
    await dialog.get_by_label("Rinki").select_option("housing")
    await dialog.get_by_label(re.compile("^Kysymys")).fill("Soittakaa, kun ehditte")
    await dialog.get_by_role("button", name="Lähetä").click()
    card = cecilia.locator("#question-list .question-card")
    await expect(card).to_contain_text("Jonossa")
    await server.advance(2)
    await expect(card).to_contain_text("Kukaan ei vastannut ajoissa")
    await card.get_by_role("button", name="Muuta soittopyynnöksi").click()
    await expect(card).to_have_count(0)
    callback = cecilia.locator("#callback-list .callback-card")
    await expect(callback).to_contain_text("Soittakaa, kun ehditte")

    # A ring member sees it and can claim it, then mark it done; then it disappears.
    _, bertil = await logged_in(browser, server, "bertil")
    theirs = bertil.locator("#callback-list .callback-card")
    await expect(theirs).to_contain_text("Cecilia Sosiaali")
    await theirs.get_by_role("button", name="Ota hoitaakseni").click()
    await expect(callback).to_contain_text("Hoitaa: Bertil Bostad")
    await theirs.get_by_role("button", name="Hoidettu").click()
    await expect(theirs).to_have_count(0)
    await expect(callback).to_have_count(0)


async def test_contact_my_liaison_rings_the_named_contact(
    browser: Browser,  # noqa: F811
    server: Server,
) -> None:
    await with_rings(server)
    _, bertil = await logged_in(browser, server, "bertil")
    _, cecilia = await logged_in(browser, server, "cecilia")
    await cecilia.get_by_role("button", name="Ota yhteys yhteyshenkilööni").click()
    dialog = cecilia.locator("#ask-dialog")
    await expect(dialog.get_by_label("Rinki")).to_be_hidden()
    await dialog.get_by_label(re.compile("^Kysymys")).fill("Asiakkaan hakemus on jumissa")
    await dialog.get_by_label("Kiireellinen").check()
    await dialog.get_by_role("button", name="Lähetä").click()
    offer = bertil.locator("#offer-dialog")
    await expect(offer).to_be_visible()
    await expect(offer).to_contain_text("Kiireellinen")
    await offer.get_by_role("button", name="Ohita").click()
    await expect(offer).to_be_hidden()


async def test_requesting_a_callback_from_a_person(
    browser: Browser,  # noqa: F811
    server: Server,
) -> None:
    await with_rings(server)
    _, bertil = await logged_in(browser, server, "bertil")
    _, cecilia = await logged_in(browser, server, "cecilia")
    await (
        cecilia.locator("#people-list .person")
        .filter(has_text="Bertil Bostad")
        .get_by_role("button", name="Bertil Bostad", exact=True)
        .click()
    )
    await cecilia.locator("#person-dialog").get_by_role("button", name="Pyydä soittoa").click()
    dialog = cecilia.locator("#callback-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label(re.compile("Mitä asia koskee")).fill("Asiakkaan vuokravakuus")
    await dialog.get_by_label("Soitettava takaisin").select_option("30")
    await dialog.get_by_role("button", name="Lähetä").click()
    await expect(dialog).to_be_hidden()
    await expect(cecilia.locator("#callback-list")).to_contain_text("Vastaanottaja: Bertil Bostad")
    theirs = bertil.locator("#callback-list .callback-card")
    await expect(theirs).to_contain_text("Asiakkaan vuokravakuus")
    await theirs.get_by_role("button", name="Ei tavoitettu").click()
    await expect(cecilia.locator("#callback-list .callback-card")).to_have_count(0)


async def test_a_code_typed_into_chat_is_replaced_and_the_sender_told(
    browser: Browser,  # noqa: F811
    server: Server,
) -> None:
    code = valid_code("121212", "A", "345")
    _, aino = await logged_in(browser, server, "aino")
    _, bertil = await logged_in(browser, server, "bertil")
    row = aino.locator("#people-list .person").filter(has_text="Bertil Bostad")
    await row.get_by_role("button", name=re.compile("Lähetä viesti")).click()
    await aino.get_by_label("Viesti", exact=True).fill(f"Asiakas {code} soitti")
    await aino.get_by_label("Viesti", exact=True).press("Enter")
    await expect(aino.locator("#compose-notice")).to_contain_text("korvattiin asiakastunnisteella")
    await expect(aino.locator("#message-list")).to_contain_text("AR-")
    await bertil.locator("#conversation-list .conversation-button").filter(has_text="Aino").click()
    await expect(bertil.locator("#message-list")).to_contain_text("AR-")
    for page in (aino, bertil):
        assert code not in await page.content()
