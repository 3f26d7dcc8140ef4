"""Rings in a real browser: sign in, ask, the offer rings, accept, chat, close, the log."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.conftest import Server
from tests.test_browser import (  # noqa: F401
    audit,
    go,
    logged_in,
    person_row,
    pytestmark,
    shot,
)
from tests.test_ring_workspace import ask
from tests.test_rings import config, valid_code, with_rings
from tests.test_rings_nodes import rings_on


def ring_row(page: Page, name: str) -> object:
    return page.locator("#ring-list .ring").filter(has_text=name)


async def sign_in_to_ring(page: Page, ring_name: str) -> None:
    ring = page.locator("#ring-list .ring").filter(has_text=ring_name)
    await ring.get_by_label(re.compile("Kirjautuneena")).check()
    await expect(ring).to_contain_text("Vapaana: 1/1")
    await expect(page.locator("#ring-announcer")).to_contain_text("Olet kirjautunut rinkiin")


async def test_a_question_through_a_ring_from_asking_to_the_log(
    browser: Browser,
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
    await aino.get_by_role("button", name=re.compile("Kysy ringiltä")).click()
    dialog = aino.locator("#ask-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Rinki").select_option("housing")
    # The ring's counts are in the dialog, live.
    await expect(dialog.locator("#ask-counts")).to_contain_text("Vapaana: 1/1")
    await dialog.get_by_label(re.compile("^Kysymys")).fill("Onko tulorajassa huomioitu asumistuki?")
    await dialog.get_by_text("Asiakas, kiireellisyys ja oikeusperuste").click()
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
    item = aino.locator("#question-strip .question-item")
    await expect(item).to_contain_text("Onko tulorajassa")

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

    # Both are in the consultation's conversation, its question pinned above the chat.
    for page in (bertil, aino):
        await expect(page).to_have_url(re.compile(r"/conversations/\d+$"))
        pin = page.locator("#consultation-pin")
        await expect(pin).to_be_visible()
        await expect(pin).to_contain_text("Onko tulorajassa huomioitu asumistuki?")
        await expect(pin).to_contain_text("AR-")
        await expect(pin).to_contain_text("Asiakas läsnä")
        await expect(page.locator("#chat-heading")).to_contain_text("Yleinen asumistuki")
    # The answered question stays with Aino on other views until the consultation ends.
    await go(aino, "/")
    await expect(item).to_contain_text("Vastaanottanut: Bertil Bostad")
    await item.get_by_role("link", name="Avaa keskustelu").click()
    await aino.get_by_label("Viesti", exact=True).fill("Asiakas on tässä vieressä.")
    await aino.get_by_label("Viesti", exact=True).press("Enter")
    await expect(bertil.locator("#message-list")).to_contain_text("Asiakas on tässä vieressä.")
    await bertil.get_by_label("Viesti", exact=True).fill("Kyllä on, tarkistin.")
    await bertil.get_by_label("Viesti", exact=True).press("Enter")
    await expect(aino.locator("#message-list")).to_contain_text("Kyllä on, tarkistin.")
    # The answered question has left the queue, on every page, without a reload.
    for page in (aino, bertil):
        await expect(ring_row(page, "Yleinen asumistuki")).to_contain_text("Jonossa: 0")
    await shot(bertil, "consultation")
    await audit(bertil, "consultation")
    # The expert owns closing: Aino has no close control, only her note.
    await expect(aino.locator("#close-consultation-button")).to_be_hidden()
    await expect(aino.locator("#consultation-pin")).to_contain_text(
        "Bertil Bostad sulkee yhteydenoton"
    )
    await aino.get_by_role("button", name="Lisää muistiinpano").click()
    await aino.get_by_label("Muistiinpano", exact=True).fill("Soitan asiakkaalle huomenna.")
    await aino.locator("#note-dialog").get_by_role("button", name="Tallenna").click()
    await expect(bertil.locator("#consultation-pin")).to_contain_text("Soitan asiakkaalle")

    # Bertil closes it with the outcome and the topic, in one folded control.
    await bertil.get_by_role("button", name="Sulje yhteydenotto…").click()
    closing = bertil.locator("#close-dialog")
    await closing.get_by_label("Lopputulos").select_option("answered")
    await closing.get_by_label("Aihe").select_option("clients_situation")
    await closing.get_by_role("button", name="Sulje ja tallenna lokiin").click()
    await expect(closing).to_be_hidden()
    # The conversation is ended: read-only, listed apart.
    for page in (aino, bertil):
        await expect(page.locator("#consultation-pin")).to_contain_text("Päättyi")
        await expect(page.locator("#compose-form")).to_be_hidden()
        await expect(page.locator("#ended-list")).to_contain_text("Yleinen asumistuki")
    await expect(item).to_have_count(0)

    # The code itself is nowhere in either page.
    for page in (aino, bertil):
        assert code not in await page.content()

    # Aino's log has the record with the client reference and her note, not the code.
    await aino.get_by_role("link", name="Loki", exact=True).click()
    await expect(aino.get_by_role("heading", name="Yhteydenottoloki", level=1)).to_be_visible()
    row = aino.locator("#log-body tr").first
    await expect(row).to_contain_text("AR-")
    await expect(row).to_contain_text("Vastattu")
    await expect(row).to_contain_text("Asiakkaan tilanne")
    await expect(row).to_contain_text("Bertil Bostad")
    await expect(row).to_contain_text("Asiakas läsnä")
    await expect(row).to_contain_text("Soitan asiakkaalle huomenna.")
    assert code not in await aino.content()
    # "Has someone already looked at this client?"
    await aino.get_by_label("Asiakkaan henkilötunnus", exact=True).fill(code)
    await aino.get_by_role("button", name="Hae").click()
    result = aino.locator("#lookup-result")
    await expect(result).to_contain_text("aiempia yhteydenottoja: 1")
    await expect(result).to_contain_text("AR-")
    assert code not in await aino.content()
    await shot(aino, "log")
    await audit(aino, "/log")


async def test_a_timed_out_question_becomes_a_callback_in_one_click(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server, config(queue_timeout_seconds=2))
    _, cecilia = await logged_in(browser, server, "cecilia")
    await ring_row(cecilia, "Yleinen asumistuki").get_by_role("button").first.click()
    dialog = cecilia.locator("#ask-dialog")
    # Nobody is signed in: the dialog says so before sending, and offers a callback.
    await expect(dialog.locator("#ask-nobody")).to_contain_text("ei ole nyt kirjautunut ketään")
    await dialog.get_by_label(re.compile("^Kysymys")).fill("Soittakaa, kun ehditte")
    await dialog.get_by_role("button", name="Lähetä").click()
    item = cecilia.locator("#question-strip .question-item")
    await expect(item).to_contain_text("Jonossa")
    await server.advance(2)
    await expect(item).to_contain_text("Kukaan ei vastannut ajoissa")
    await item.get_by_role("button", name="Muuta soittopyynnöksi").click()
    await expect(item).to_contain_text("Muutettu soittopyynnöksi")
    callback = cecilia.locator("#callback-list .callback-card")
    await expect(callback).to_contain_text("Soittakaa, kun ehditte")

    # A ring member sees it with the number to call, claims it, then marks it done.
    _, bertil = await logged_in(browser, server, "bertil")
    theirs = bertil.locator("#callback-list .callback-card")
    await expect(theirs).to_contain_text("Cecilia Sosiaali")
    await theirs.get_by_role("button", name="Ota hoitaakseni").click()
    await expect(callback).to_contain_text("Hoitaa: Bertil Bostad")
    await theirs.get_by_role("button", name="Hoidettu").click()
    await expect(theirs).to_have_count(0)
    await expect(callback).to_have_count(0)


async def test_contact_my_liaison_rings_the_named_contact(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server)
    _, bertil = await logged_in(browser, server, "bertil")
    _, cecilia = await logged_in(browser, server, "cecilia")
    await cecilia.get_by_role("button", name=re.compile("Ota yhteys yhteyshenkilööni")).click()
    dialog = cecilia.locator("#ask-dialog")
    await expect(dialog.get_by_label("Rinki")).to_be_hidden()
    await expect(dialog.get_by_label(re.compile("^Kysymys"))).to_be_focused()
    await dialog.get_by_label(re.compile("^Kysymys")).fill("Asiakkaan hakemus on jumissa")
    await dialog.get_by_text("Asiakas, kiireellisyys ja oikeusperuste").click()
    await dialog.get_by_label("Kiireellinen").check()
    await dialog.get_by_role("button", name="Lähetä").click()
    offer = bertil.locator("#offer-dialog")
    await expect(offer).to_be_visible()
    await expect(offer).to_contain_text("Kiireellinen")
    await offer.get_by_role("button", name="Ohita").click()
    await expect(offer).to_be_hidden()


async def test_requesting_a_callback_from_a_person(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server)
    _, bertil = await logged_in(browser, server, "bertil", observed=True)
    _, cecilia = await logged_in(browser, server, "cecilia")
    await person_row(cecilia, "Bertil Bostad").get_by_role("link", name="Bertil Bostad").click()
    await cecilia.get_by_role("button", name="Pyydä soittoa").click()
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
    browser: Browser,
    server: Server,
) -> None:
    code = valid_code("121212", "A", "345")
    _, aino = await logged_in(browser, server, "aino")
    _, bertil = await logged_in(browser, server, "bertil")
    row = person_row(aino, "Bertil Bostad")
    await row.get_by_role("button", name=re.compile("Lähetä viesti")).click()
    await aino.get_by_label("Viesti", exact=True).fill(f"Asiakas {code} soitti")
    await aino.get_by_label("Viesti", exact=True).press("Enter")
    await expect(aino.locator("#compose-notice")).to_contain_text("korvattiin asiakastunnisteella")
    await expect(aino.locator("#message-list")).to_contain_text("AR-")
    await go(bertil, "/conversations")
    await bertil.locator("#conversation-list .conversation-button").filter(has_text="Aino").click()
    await expect(bertil.locator("#message-list")).to_contain_text("AR-")
    for page in (aino, bertil):
        assert code not in await page.content()


async def test_two_browsers_on_two_nodes_ask_and_take_a_question(
    browser: Browser,
    nodes: tuple[Server, Server],
) -> None:
    """Two nodes on one database and one Redis, as the README starts them: Bertil's
    browser on B signs in to a ring, Aino's on A sees him free and asks; his page rings,
    he takes it, and both are in the consultation's conversation, talking across nodes."""
    a, b = nodes
    await rings_on(a, b)
    _, bertil = await logged_in(browser, b, "bertil")
    await sign_in_to_ring(bertil, "Yleinen asumistuki")
    _, aino = await logged_in(browser, a, "aino")
    await expect(ring_row(aino, "Yleinen asumistuki")).to_contain_text("Vapaana: 1/1")
    await aino.get_by_role("button", name=re.compile("Kysy ringiltä")).click()
    dialog = aino.locator("#ask-dialog")
    await dialog.get_by_label("Rinki").select_option("housing")
    await dialog.get_by_label(re.compile("^Kysymys")).fill("Kysymys solmulta toiselle")
    await dialog.get_by_role("button", name="Lähetä").click()
    await expect(dialog).to_be_hidden()

    offer = bertil.locator("#offer-dialog")
    await expect(offer).to_contain_text("Kysymys solmulta toiselle")
    await offer.get_by_role("button", name="Ota vastaan").click()
    for page in (bertil, aino):
        await expect(page).to_have_url(re.compile(r"/conversations/\d+$"))
        await expect(page.locator("#consultation-pin")).to_contain_text("Kysymys solmulta toiselle")
    await aino.get_by_label("Viesti", exact=True).fill("Tässä asiakkaan tilanne.")
    await aino.get_by_label("Viesti", exact=True).press("Enter")
    await expect(bertil.locator("#message-list")).to_contain_text("Tässä asiakkaan tilanne.")
    for page in (aino, bertil):
        await expect(ring_row(page, "Yleinen asumistuki")).to_contain_text("Jonossa: 0")


async def test_the_asker_sees_the_queue_grow_behind_their_question(
    browser: Browser,
    server: Server,
) -> None:
    """Nobody answers the ring: Aino's question waits first in line. Cecilia asks after
    her; the server sends Aino's question no status for that (nothing about it changed),
    yet her page says how many wait, from the ring's live counts."""
    await with_rings(server)
    _, aino = await logged_in(browser, server, "aino")
    await aino.get_by_role("button", name=re.compile("Kysy ringiltä")).click()
    dialog = aino.locator("#ask-dialog")
    await dialog.get_by_label("Rinki").select_option("housing")
    await dialog.get_by_label(re.compile("^Kysymys")).fill("Ensimmäisenä jonossa")
    await dialog.get_by_role("button", name="Lähetä").click()
    item = aino.locator("#question-strip .question-item")
    await expect(item).to_contain_text("Jonossa 1/1")
    cecilia = await (await server.client("cecilia")).socket()
    await ask(cecilia, "Toisena jonossa", 1)
    await expect(item).to_contain_text("Jonossa 1/2")
