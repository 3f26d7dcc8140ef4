"""Issue 9 in a real browser: rings that reach an expert all day.

One test per promise: one live workspace (the socket survives moving between views), the
whole computer's idle state instead of the tab's, nothing ringing unseen, the asker's live
question on every view, asking in two actions, consultations that end, a consultation view
with room, callbacks people act on, and phone layouts."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, WebSocketRoute, expect

from tests.conftest import SAFETY_SECONDS, Server, Socket
from tests.test_browser import (  # noqa: F401
    DESKTOP,
    NARROW,
    PHONE,
    connected,
    go,
    logged_in,
    person_row,
    pytestmark,
    shot,
)
from tests.test_browser_rings import ring_row, sign_in_to_ring
from tests.test_chat import direct
from tests.test_rings import config, signed_in, until_status, valid_code, with_rings

# Browser pages keep their own heartbeats in real time while these tests move the
# server's clock by minutes: the server waits long enough for them.
PATIENT = {"heartbeat_timeout_seconds": 3600.0}


class WireTap:
    """The frames between a page and the server: the page's WebSocket is routed through
    Playwright, and every frame in either direction is kept as it passes."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        # Connections the page opened, in order, and those the network has silenced:
        # nothing passes either way, yet neither end is told (a half-open connection).
        self.connections = 0
        self.silenced: set[int] = set()

    def silence(self) -> None:
        """The page's current connection goes dead without closing; later ones work."""
        self.silenced.add(self.connections - 1)

    async def install(self, context: BrowserContext) -> None:
        async def route(ws: WebSocketRoute) -> None:
            server = ws.connect_to_server()
            number = self.connections
            self.connections += 1
            self.changed.set()

            def from_page(message: str | bytes) -> None:
                if number in self.silenced:
                    return
                self.sent.append(json.loads(message))
                self.changed.set()
                server.send(message)

            def from_server(message: str | bytes) -> None:
                if number in self.silenced:
                    return
                self.received.append(json.loads(message))
                self.changed.set()
                ws.send(message)

            ws.on_message(from_page)
            server.on_message(from_server)

        await context.route_web_socket(re.compile(r"/ws$"), route)

    def count(self, kind: str, frames: list[dict[str, Any]]) -> int:
        return sum(1 for f in frames if f["type"] == kind)

    async def acked(self) -> None:
        """Until the server has answered every heartbeat the page sent so far, so it has
        handled them (and what they reported) too."""
        sent = self.count("heartbeat", self.sent)
        await self.until(lambda t: t.count("heartbeat_ack", t.received) >= sent)

    async def until(self, done: Callable[[WireTap], bool]) -> None:
        """Until `done(self)` holds; every frame that passes looks again."""
        while True:
            self.changed.clear()
            if done(self):
                return
            await asyncio.wait_for(self.changed.wait(), SAFETY_SECONDS)


class Actions:
    """Counts what a user does with the mouse and keys (typing text is not counted)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.count = 0

    async def click(self, locator: Any) -> None:
        self.count += 1
        await locator.click()

    async def press(self, key: str) -> None:
        self.count += 1
        await self.page.keyboard.press(key)

    async def type(self, text: str) -> None:
        await self.page.keyboard.type(text)


async def hide(page: Page) -> None:
    """The tab goes behind the benefit system: hidden, and no input from here on."""
    await page.evaluate(
        """() => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
        Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )


async def show(page: Page) -> None:
    await page.evaluate(
        """() => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"});
        Object.defineProperty(document, "hidden", {configurable: true, get: () => false});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )


def keys_of(server: Server, name: str) -> list[str]:
    return [c.key for c in server.core.hub.connections_of(server.people[name])]


async def asker_socket(server: Server, name: str = "aino") -> Socket:
    return await (await server.client(name)).socket()


async def ask(sock: Socket, question: str, ref: int, ring: str = "housing", **extra: Any) -> str:
    await sock.send({"type": "ask", "ring_id": ring, "question": question, "ref": ref, **extra})
    return str((await sock.expect("question_status", ref=ref))["question"]["question_id"])


# ---------------------------------------------------------------- 1. one live workspace


async def test_moving_between_views_keeps_the_one_socket_and_the_ring(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server)
    _, bertil = await logged_in(browser, server, "bertil")
    await sign_in_to_ring(bertil, "Yleinen asumistuki")
    key = await bertil.evaluate("window.liaison.connection()")
    assert keys_of(server, "bertil") == [key]
    aino = await asker_socket(server)
    # Directory → log → load → profile → conversations, by the navigation's links.
    for name, heading in (
        ("Loki", "Yhteydenottoloki"),
        ("Kuormitus", "Kuormitus"),
        ("Oma profiili", "Oma profiili"),
        ("Keskustelut", "Keskustelut"),
    ):
        await (
            bertil.get_by_role("navigation", name="Päävalikko")
            .get_by_role("link", name=re.compile(name))
            .click()
        )
        await expect(bertil.get_by_role("heading", name=heading, level=1)).to_be_visible()
    await bertil.go_back()
    await bertil.go_back()
    await expect(bertil.get_by_role("heading", name="Kuormitus", level=1)).to_be_visible()
    await bertil.go_back()
    await expect(bertil.get_by_role("heading", name="Yhteydenottoloki", level=1)).to_be_visible()
    # A question asked just now rings on the log view: nothing was closed or reopened.
    question_id = await ask(aino, "Lokin lukijalle?", 1)
    offer = bertil.locator("#offer-dialog")
    await expect(offer).to_be_visible()
    await expect(offer).to_contain_text("Lokin lukijalle?")
    assert keys_of(server, "bertil") == [key]
    assert await bertil.evaluate("window.liaison.connection()") == key
    # Back to the directory while it rings: still ringing, still the same socket.
    await bertil.go_back()
    await expect(bertil.get_by_role("heading", name="Hakemisto", level=1)).to_be_visible()
    await expect(offer).to_be_visible()
    await offer.get_by_role("button", name="Ota vastaan").click()
    await expect(bertil).to_have_url(re.compile(r"/conversations/\d+$"))
    await expect(bertil.locator("#consultation-pin")).to_contain_text("Lokin lukijalle?")
    assert keys_of(server, "bertil") == [key]
    await until_status(aino, question_id, "accepted")

    # A reload resumes the same view without flashing offline to anyone.
    watcher = await (await server.client("cecilia")).socket(watch=[server.people["bertil"]])
    url = bertil.url
    await bertil.reload()
    await expect(bertil.locator('body[data-connection="online"]')).to_have_count(1)
    assert bertil.url == url
    await expect(bertil.locator("#consultation-pin")).to_contain_text("Lokin lukijalle?")
    await server.advance(2)  # past the grace period of the old socket
    await watcher.no_frame("presence", person_id=server.people["bertil"], status="offline")
    assert len(keys_of(server, "bertil")) == 1 and keys_of(server, "bertil") != [key]


# ---------------------------------------------------------------- 2. availability


async def test_a_background_tab_without_input_is_still_offered_and_idleness_comes_from_the_system(
    browser: Browser,
    server_factory: Any,
) -> None:
    async with server_factory(**PATIENT, idle_away_seconds=60) as srv:
        await with_rings(srv)
        tap = WireTap()
        _, bertil = await logged_in(
            browser, srv, "bertil", observed=True, before=tap.install, clock=True
        )
        await sign_in_to_ring(bertil, "Yleinen asumistuki")
        # Signing in asked, once, for notifications and the idle state.
        requests = await bertil.evaluate("window.__permissionRequests")
        assert requests == {"notification": 1, "idle": 1}
        # Cecilia shows Bertil (a directory row, say): she gets his presence.
        watcher = await (await srv.client("cecilia")).socket(watch=[srv.people["bertil"]])

        # The expert works in the benefit system: the tab is hidden and gets no input for
        # well over idle_away_seconds (60 s). Heartbeats go on, saying "active".
        await hide(bertil)
        # Heartbeat by heartbeat, each answered before the next, as in real time (the page
        # gives up a connection whose heartbeats go unanswered).
        for _ in range(15):
            await bertil.clock.run_for(10_000)
            await tap.acked()
        assert all(f.get("active", True) for f in tap.sent if f["type"] == "heartbeat")
        await srv.advance(150)
        await watcher.no_frame("presence", person_id=srv.people["bertil"], status="away")
        # A question now rings for him: the dialog, the title, the sound, a notification.
        aino = await asker_socket(srv)
        await ask(aino, "Taustalla oleva asiantuntija?", 1)
        await expect(bertil.locator("#offer-dialog")).to_contain_text("Taustalla oleva")
        await expect(bertil).to_have_title(re.compile("🔔|Hälyttää"))
        notifications = await bertil.evaluate("window.__notifications")
        assert [n["title"] for n in notifications] == ["Kysymys ringille Yleinen asumistuki"]
        assert await bertil.evaluate("window.__sounds") > 0
        await bertil.locator("#offer-dialog").get_by_role("button", name="Ohita").click()

        # The computer itself goes idle (or locks): that, and only that, is away.
        await bertil.evaluate(
            "window.__idle.userState = 'idle'; window.__idle.dispatchEvent(new Event('change'))"
        )
        await tap.until(lambda t: any(f.get("active") is False for f in t.sent))
        await tap.acked()
        presence = await watcher.expect("presence", person_id=srv.people["bertil"])
        assert presence["status"] == "away"
        await bertil.evaluate(
            "window.__idle.userState = 'active'; window.__idle.dispatchEvent(new Event('change'))"
        )
        await tap.until(lambda t: t.sent[-1].get("active") is True)
        await tap.acked()
        presence = await watcher.expect("presence", person_id=srv.people["bertil"])
        assert presence["status"] == "available"
        # Signing in again does not ask again.
        ring = ring_row(bertil, "Yleinen asumistuki")
        await ring.get_by_label(re.compile("Kirjautuneena")).uncheck()
        await ring.get_by_label(re.compile("Kirjautuneena")).check()
        await expect(ring).to_have_class(re.compile("signed-in"))
        assert await bertil.evaluate("window.__permissionRequests") == requests


# ---------------------------------------------------------------- 3. nothing rings unseen


async def test_a_missed_question_leaves_a_trace_and_repeated_misses_pause_the_member(
    browser: Browser,
    server_factory: Any,
) -> None:
    async with server_factory(**PATIENT) as srv:
        members = ["bertil@kela.example", "daniel@kela.example", "eeva@kela.example"]
        await with_rings(
            srv,
            config(method="serial", alert_seconds=20, queue_timeout_seconds=3600, members=members),
        )
        _, bertil = await logged_in(browser, srv, "bertil", observed=True)
        await sign_in_to_ring(bertil, "Yleinen asumistuki")
        _, eeva = await logged_in(browser, srv, "eeva")
        await eeva.get_by_role("link", name="Kuormitus").click()
        card = eeva.locator('.load-ring[data-ring-id="housing"]')
        aino = await asker_socket(srv)
        await ask(aino, "Ensimmäinen soitto", 1)
        offer = bertil.locator("#offer-dialog")
        await expect(offer).to_be_visible()
        await hide(bertil)
        await srv.advance(20)  # it rings out
        await expect(offer).to_be_hidden()
        await expect(bertil).to_have_title(re.compile(r"^\(!\) Vastaamaton kysymys"))
        missed = bertil.locator("#missed-list .missed-card")
        await expect(missed).to_have_count(1)
        await expect(bertil.locator("#missed-count")).to_contain_text("uusia: 1")
        await missed.locator("summary").click()
        await expect(missed).to_contain_text("Aino Asiantuntija")
        await expect(missed).to_contain_text("Yleinen asumistuki")
        await expect(missed).to_contain_text("Ensimmäinen soitto")
        await expect(missed).to_contain_text("Hälytti vastaamatta")
        await expect(missed).to_contain_text("Se odottaa yhä vastausta.")
        await expect(bertil.locator("#missed-count")).to_be_hidden()
        await show(bertil)
        await expect(bertil).to_have_title("Liaison")

        # Once more in a row: he is out of routing, told so, with one action back in.
        await srv.advance(20)  # the pause; the question rings for him again
        await expect(offer).to_be_visible()
        await srv.advance(20)
        banner = bertil.locator("#not-responding")
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("Et vastannut 2 viimeisimpään")
        await expect(card.locator('[data-stat="not_responding"] dd')).to_have_text("1")
        await srv.advance(40)
        await expect(offer).to_be_hidden()  # not offered while paused
        await banner.get_by_role("button", name=re.compile("Olen paikalla")).click()
        await expect(banner).to_be_hidden()
        await expect(offer).to_be_visible()
        await expect(card.locator('[data-stat="not_responding"] dd')).to_have_text("0")


# ---------------------------------------------------------------- 4. the asker sees it all


async def test_the_asker_sees_the_question_live_on_every_view(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server, config(overflow_ring_id="liaison-jarvi"))
    eeva = await signed_in(server, "eeva", "liaison-jarvi")
    _, aino = await logged_in(browser, server, "aino")
    await ring_row(aino, "Yleinen asumistuki").get_by_role("button").first.click()
    dialog = aino.locator("#ask-dialog")
    # Nobody signed in: said before sending, with a callback or the overflow ring at hand.
    nobody = dialog.locator("#ask-nobody")
    await expect(nobody).to_contain_text("Rinkiin Yleinen asumistuki ei ole nyt kirjautunut")
    overflow = nobody.get_by_role("button", name=re.compile("Järvi-Suomen kuntayhteyshenkilöt"))
    await expect(overflow).to_contain_text("vapaana: 1")
    await expect(dialog.get_by_role("button", name="Jätä sen sijaan soittopyyntö")).to_be_visible()
    await dialog.get_by_label(re.compile("^Kysymys")).fill("Odotanko jonossa?")
    await dialog.get_by_role("button", name="Lähetä").click()
    item = aino.locator("#question-strip .question-item")
    await expect(item).to_contain_text("Jonossa 1/1")
    # An urgent question goes ahead: said at once, without asking.
    cecilia = await asker_socket(server, "cecilia")
    urgent = await ask(cecilia, "Kiire!", 1, urgency="urgent")
    await expect(item).to_contain_text("Jonossa 2/2")
    await expect(item).to_contain_text("Kiireellinen kysymys meni omasi edelle")
    # It stays in view wherever she goes.
    for path in ("/log", "/load", "/me", "/conversations", "/"):
        await go(aino, path)
        await expect(item).to_be_visible()
        await expect(item).to_contain_text("Jonossa 2/2")
    await cecilia.send({"type": "cancel", "question_id": urgent})
    await expect(item).to_contain_text("Jonossa 1/1")
    await expect(item).to_contain_text("siirtyi jonossa eteenpäin")
    # Ring counts and the question's status move when a member signs in.
    bertil = await signed_in(server, "bertil")
    await expect(ring_row(aino, "Yleinen asumistuki")).to_contain_text("Vapaana: 1/1")
    await expect(item).to_contain_text("Hälyttää 1 jäsenelle")
    await bertil.expect("offer")
    # Cancelling is one action.
    await item.get_by_role("button", name="Peru kysymys").click()
    await expect(item).to_have_count(0)
    await bertil.expect("offer_withdrawn", reason="cancelled")
    # The overflow ring instead, right from the dialog.
    await bertil.send({"type": "set_presence", "status": "dnd"})
    await expect(ring_row(aino, "Yleinen asumistuki")).to_contain_text("Vapaana: 0/1")
    await ring_row(aino, "Yleinen asumistuki").get_by_role("button").first.click()
    await expect(nobody).to_contain_text("ei ole nyt ketään vapaana")
    await overflow.click()
    await expect(dialog.get_by_label("Rinki")).to_have_value("liaison-jarvi")
    await expect(nobody).to_be_hidden()
    await expect(dialog.get_by_label(re.compile("^Kysymys"))).to_be_focused()
    await aino.keyboard.type("Kuntayhteyshenkilölle")
    await aino.keyboard.press("Enter")
    # The page shows the reply first: by then the server has the question (a test socket's
    # settle cannot know what a browser has sent).
    await expect(item).to_contain_text("Järvi-Suomen kuntayhteyshenkilöt")
    await eeva.expect("offer")


# ---------------------------------------------------------------- 5. two actions


async def test_asking_takes_at_most_two_actions(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    eeva = await signed_in(server, "eeva", "liaison-jarvi")
    _, aino = await logged_in(browser, server, "aino")
    button = aino.get_by_role("button", name=re.compile("Kysy ringiltä"))
    await expect(button).to_have_attribute("aria-keyshortcuts", "Alt+K")
    await expect(button).to_contain_text("Alt+K")
    items = aino.locator("#question-strip .question-item")

    # A click on a ring's row, the question, Enter.
    actions = Actions(aino)
    await actions.click(
        ring_row(aino, "Järvi-Suomen kuntayhteyshenkilöt").get_by_role("button").first
    )
    await actions.type("Kysymys riviltä")
    await actions.press("Enter")
    await expect(items.filter(has_text="Kysymys riviltä")).to_be_visible()
    assert actions.count <= 2
    await eeva.expect("offer")

    # The shortcut, from another view, defaults to the ring asked last.
    await go(aino, "/log")
    actions = Actions(aino)
    await actions.press("Alt+K")
    await expect(aino.locator("#ask-ring")).to_have_value("liaison-jarvi")
    await aino.locator("#ask-ring").select_option("housing")  # choosing another ring: not needed
    await actions.type("Kysymys pikanäppäimellä")
    await actions.press("Enter")
    await expect(items.filter(has_text="Kysymys pikanäppäimellä")).to_be_visible()
    assert actions.count <= 2
    await bertil.expect("offer")
    actions = Actions(aino)
    await actions.press("Alt+K")
    await expect(aino.locator("#ask-ring")).to_have_value("housing")
    await actions.press("Escape")

    # "Contact my liaison", for a social worker: one action to open, Enter sends.
    _, cecilia = await logged_in(browser, server, "cecilia")
    actions = Actions(cecilia)
    await actions.click(
        cecilia.get_by_role("button", name=re.compile("Ota yhteys yhteyshenkilööni"))
    )
    await actions.type("Yhteyshenkilölleni")
    await actions.press("Enter")
    await expect(cecilia.locator("#question-strip .question-item")).to_contain_text(
        "Yhteyshenkilölleni"
    )
    assert actions.count <= 2
    actions = Actions(cecilia)
    await actions.press("Alt+L")
    await expect(cecilia.locator("#ask-dialog-heading")).to_have_text("Ota yhteys yhteyshenkilööni")


# ---------------------------------------------------------------- 6 and 7. consultations


async def test_consultations_end_and_the_view_leaves_room_for_the_messages(
    browser: Browser,
    server_factory: Any,
) -> None:
    settings = {"consultation_reminder_seconds": 60, "consultation_auto_close_seconds": 240}
    async with server_factory(**PATIENT, **settings) as srv:
        await with_rings(srv)
        _, bertil = await logged_in(browser, srv, "bertil")
        await sign_in_to_ring(bertil, "Yleinen asumistuki")
        _, aino = await logged_in(browser, srv, "aino")
        await ring_row(aino, "Yleinen asumistuki").get_by_role("button").first.click()
        await aino.keyboard.type("Saako asumistukea, jos vuokrasopimus on määräaikainen?")
        await aino.keyboard.press("Enter")
        await bertil.locator("#offer-dialog").get_by_role("button", name="Ota vastaan").click()
        await expect(bertil.locator("#consultation-pin")).to_be_visible()
        # The expert sees why he is busy: his open consultation is listed.
        listed = bertil.locator("#consultation-list .consultation-card")
        await expect(listed).to_contain_text("määräaikainen")
        await expect(listed).to_contain_text("Näyt varattuna, kunnes suljet sen")
        await expect(person_row(aino, "Bertil Bostad").locator(".presence")).to_have_text("Varattu")

        # Room: the question pinned while many messages scroll; most of the height.
        conversation = int(bertil.url.rsplit("/", 1)[1])
        sock = await asker_socket(srv)
        for number in range(30):
            await sock.send(
                {
                    "type": "send",
                    "id": f"m{number}",
                    "conversation_id": conversation,
                    "body": f"Viesti {number}",
                }
            )
        await expect(bertil.locator("#message-list .message")).to_have_count(30)
        log_box = await bertil.locator("#message-log").bounding_box()
        assert log_box is not None and log_box["height"] >= 0.5 * DESKTOP["height"], log_box
        await bertil.locator("#message-log").evaluate("node => { node.scrollTop = 0; }")
        pin = await bertil.locator("#consultation-pin").bounding_box()
        assert pin is not None and 0 <= pin["y"] < DESKTOP["height"] / 3
        await expect(bertil.locator("#consultation-pin")).to_contain_text("määräaikainen")
        # The close form is one control: nothing of it shows until asked for.
        await expect(bertil.locator("#close-outcome")).to_be_hidden()
        await expect(bertil.get_by_role("button", name="Sulje yhteydenotto…")).to_be_visible()

        # Quiet for a minute: the expert is reminded, with both ways out at hand.
        await srv.advance(60)
        reminder = bertil.locator("#reminder-list .attention-item")
        await expect(reminder).to_contain_text("on ollut hiljaista")
        await expect(aino.locator("#reminder-list .attention-item")).to_have_count(0)
        await reminder.get_by_role("button", name="Pidä auki").click()
        await expect(reminder).to_have_count(0)
        # The server's answer is on the page: its quiet time starts from here.
        await expect(bertil.locator("#consultation-pin")).to_contain_text("Pidetty auki klo")
        # Nobody closes it: after four quiet minutes it closes itself, not recorded.
        await srv.advance(240)
        for page in (aino, bertil):
            await expect(page.locator("#consultation-pin")).to_contain_text("Ei kirjattu")
            await expect(page.locator("#compose-form")).to_be_hidden()
        await expect(listed).to_have_count(0)
        await expect(person_row(aino, "Bertil Bostad").locator(".presence")).to_have_text(
            "Tavoitettavissa"
        )
        # It is in the ended section, found by searching, still readable.
        await go(aino, "/conversations")
        ended = aino.locator("#ended-section")
        await ended.locator("summary").click()
        await ended.get_by_label("Hae päättyneistä yhteydenotoista").fill("määräaikainen")
        await expect(ended.locator("#ended-list .conversation")).to_have_count(1)
        await ended.get_by_label("Hae päättyneistä yhteydenotoista").fill("lapsilisä")
        await expect(ended.locator("#ended-list .conversation")).to_have_count(0)
        await ended.get_by_label("Hae päättyneistä yhteydenotoista").fill("")
        await ended.locator("#ended-list .conversation-button").click()
        await expect(aino.locator("#message-list")).to_contain_text("Viesti 29")
        await expect(aino.locator("#conversation-list")).not_to_contain_text("määräaikainen")
        await aino.get_by_role("link", name="Loki", exact=True).click()
        await expect(aino.locator("#log-body tr").first).to_contain_text("Ei kirjattu")


# ---------------------------------------------------------------- 8. callbacks


async def test_a_callback_request_reaches_its_owner_with_what_is_needed_to_call_back(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server)
    aino = await server.client("aino")
    await aino.api("PATCH", "/api/me/profile", json={"work_phone": "+358 20 634 1234"})
    _, bertil = await logged_in(browser, server, "bertil", observed=True, clock=True)
    # Signing into his ring is where he allowed notifications.
    await sign_in_to_ring(bertil, "Yleinen asumistuki")
    await hide(bertil)
    code = valid_code()
    sock = await aino.socket()
    await sock.send(
        {
            "type": "callback_create",
            "owner_ring_id": "housing",
            "note": "Asiakkaan vuokrarästit",
            "client_code": code,
            "due_minutes": 30,
            "ref": 1,
        }
    )
    await sock.expect("callback_created", ref=1)
    card = bertil.locator("#callback-list .callback-card")
    await expect(card).to_contain_text("Asiakkaan vuokrarästit")
    await expect(card).to_contain_text("Aino Asiantuntija")
    await expect(card.get_by_role("link", name="+358 20 634 1234")).to_have_attribute(
        "href", "tel:+358206341234"
    )
    await expect(card).to_contain_text("AR-")
    assert code not in await bertil.content()
    # The owner is told as a ringing question would: title, sound, notification.
    await expect(bertil).to_have_title(re.compile(r"^\(!\) Soittopyyntö"))
    notifications = await bertil.evaluate("window.__notifications")
    assert notifications and notifications[-1]["title"] == "Soittopyyntö"
    assert await bertil.evaluate("window.__sounds") > 0
    # Past its due time it stands out, and goes first.
    await expect(card).not_to_have_class(re.compile("overdue"))
    await bertil.clock.fast_forward(31 * 60 * 1000)
    await expect(card).to_have_class(re.compile("overdue"))
    await expect(card.locator(".tag-overdue")).to_have_text("Myöhässä")


# ---------------------------------------------------------------- 9. phones


VIEWS = (
    "/",
    "/people/{bertil}",
    "/conversations",
    "/conversations/{conversation}",
    "/rings",
    "/log",
    "/load",
    "/me",
    "/admin",
)


async def test_every_view_reflows_on_a_phone_without_sideways_scrolling(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server, config(members=["bertil@kela.example", "admin@kela.example"]))
    admin = await server.client("admin")
    direct = await admin.api(
        "POST", "/api/conversations", json={"person_id": server.people["bertil"]}
    )
    ids = {"bertil": server.people["bertil"], "conversation": direct.json()["id"]}
    for viewport in (PHONE, NARROW):
        context, page = await logged_in(browser, server, "admin", viewport=viewport)
        for path in VIEWS:
            await go(page, path.format(**ids))
            await expect(page.locator('body[data-pending="0"]')).to_have_count(1)
            widths = await page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], (viewport, path, widths)
        # Tabs for the three main places; the rest behind the menu.
        nav = page.get_by_role("navigation", name="Päävalikko")
        for tab in ("Hakemisto", "Keskustelut", "Ringit"):
            await expect(nav.get_by_role("link", name=re.compile(tab))).to_be_visible()
        await expect(nav.get_by_role("link", name="Kuormitus")).to_be_hidden()
        await page.get_by_role("button", name="Valikko").click()
        await expect(nav.get_by_role("link", name="Kuormitus")).to_be_visible()
        await page.get_by_role("button", name="Valikko").click()
        # The ask dialog fits the screen; the offer takes all of it.
        await go(page, "/rings")
        await ring_row(page, "Yleinen asumistuki").get_by_role("button").first.click()
        box = await page.locator("#ask-dialog").bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]
        await page.keyboard.press("Escape")
        await ring_row(page, "Yleinen asumistuki").get_by_label(re.compile("Kirjautuneena")).check()
        await expect(ring_row(page, "Yleinen asumistuki")).to_have_class(re.compile("signed-in"))
        aino = await asker_socket(server)
        await ask(aino, "Puhelimeen?", 1)
        offer = page.locator("#offer-dialog")
        await expect(offer).to_be_visible()
        box = await offer.bounding_box()
        assert box == {"x": 0, "y": 0, "width": viewport["width"], "height": viewport["height"]}
        if viewport == PHONE:
            await shot(page, "phone-offer")
        await offer.get_by_role("button", name="Ohita").click()
        await aino.close()
        await context.close()


@pytest.mark.long
async def test_dates_and_times_follow_the_language(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    aino = await asker_socket(server)
    question = await ask(aino, "Päivämäärät?", 1)
    await bertil.send({"type": "accept", "question_id": question})
    await bertil.expect("accepted")
    patterns = {
        # CLDR through Babel: fi_FI d.M.y H.mm, sv_FI d.M.y H.mm, en_FI dd/MM/y, H.mm
        "fi": r"^\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}\.\d{2}$",
        "sv": r"^\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}\.\d{2}$",
        "en": r"^\d{2}/\d{2}/\d{4}, \d{1,2}\.\d{2}$",
    }
    for language, pattern in patterns.items():
        context, page = await logged_in(browser, server, "aino", language=language)
        await go(page, "/log")
        cell = page.locator("#log-body tr").first.locator("time")
        await expect(cell).to_have_text(re.compile(pattern))
        await context.close()


async def test_a_connection_that_dies_without_closing_is_replaced(
    browser: Browser,
    server: Server,
) -> None:
    """The network drops the connection without a word (a laptop waking from sleep, a
    proxy's idle timeout): the browser would call it open for many minutes. The page
    notices its heartbeats go unanswered, connects again by itself and gets what was sent
    meanwhile; a quiet connection that answers is never given up."""
    tap = WireTap()
    _, bertil = await logged_in(browser, server, "bertil", before=tap.install, clock=True)
    interval = int(server.core.settings.heartbeat_interval_seconds * 1000)
    writer = await server.client("aino")
    aino = await writer.socket()
    conversation = await direct(writer, server.people["bertil"])
    await aino.send(
        {"type": "send", "id": "m1", "conversation_id": conversation, "body": "Ensimmäinen"}
    )
    await aino.expect("ack", id="m1")
    await go(bertil, f"/conversations/{conversation}")
    await expect(bertil.locator("#message-list")).to_contain_text("Ensimmäinen")
    # From here only the test moves the page's clock (real time would add to it).
    await bertil.clock.pause_at(await bertil.evaluate("Date.now()") + 1000)
    # Quiet but alive: minutes of heartbeats, each answered, keep the one connection.
    for _ in range(6):
        await bertil.clock.run_for(interval)
        await tap.acked()
    assert tap.connections == 1
    # Dead without closing: nothing passes, and neither end hears of it.
    tap.silence()
    await aino.send({"type": "send", "id": "m2", "conversation_id": conversation, "body": "Toinen"})
    await aino.expect("ack", id="m2")
    # The next heartbeat goes unanswered, and so do two intervals after it (the next one
    # is due within an interval); then the back-off of at most 0.625 s.
    await bertil.clock.run_for(3 * interval + 1000)
    await tap.until(lambda t: t.connections == 2 and t.count("welcome", t.received) == 2)
    await bertil.clock.resume()
    await connected(bertil)
    await expect(bertil.locator("#message-list")).to_contain_text("Toinen")
    await expect(bertil.locator("#message-list .message")).to_have_count(2)


async def test_after_messages_were_lost_between_nodes_the_page_resumes_them_once(
    browser: Browser,
    server: Server,
) -> None:
    """When the bus lost messages (Redis away or restarted: tests/test_bus_redis.py), the
    node closes every connection with 1012 (RESYNC). The page waits a random part of 5 s,
    so that a node's pages do not all come back at once, then resumes from its cursors:
    what it lacked arrives, and what it had shows once."""
    tap = WireTap()
    _, bertil = await logged_in(browser, server, "bertil", before=tap.install, clock=True)
    writer = await server.client("aino")
    aino = await writer.socket()
    conversation = await direct(writer, server.people["bertil"])
    await aino.send({"type": "send", "id": "m1", "conversation_id": conversation, "body": "Ennen"})
    await aino.expect("ack", id="m1")
    await go(bertil, f"/conversations/{conversation}")
    # The heading is drawn once the history has loaded: "Ennen" may show before (from its
    # frame), and a history read after the next message would bring that one along.
    await expect(bertil.locator("#chat-heading")).to_have_text("Aino Asiantuntija")
    await expect(bertil.locator("#message-list")).to_contain_text("Ennen")
    # A delivery lost on the way: this node hands it to no connection.
    hub = server.core.hub
    deliver = hub.deliver_local
    hub.deliver_local = lambda *args, **kwargs: None  # type: ignore[method-assign]
    try:
        await aino.send(
            {"type": "send", "id": "m2", "conversation_id": conversation, "body": "Kadonnut"}
        )
        await aino.expect("ack", id="m2")
        await server.settle()
    finally:
        hub.deliver_local = deliver  # type: ignore[method-assign]
    await expect(bertil.locator("#message-list .message")).to_have_count(1)
    # This page draws the longest wait of the spread: 4.95 s, not the 0.5 s of a drop.
    await bertil.evaluate("Math.random = () => 0.99")
    # The page's clock stops flowing with real time (which, on a loaded machine, could
    # add the last 50 ms by itself): from here only the test moves it.
    await bertil.clock.pause_at(await bertil.evaluate("Date.now()") + 1000)
    await hub.catch_up()  # as after the bus told of the gap
    assert await aino.closed() == 1012
    await expect(bertil.locator('body[data-connection="offline"]')).to_have_count(1)
    await bertil.clock.run_for(4900)
    assert tap.connections == 1
    # Back at the end of its wait (the page's clock), resumed: the lost one, once each.
    await bertil.clock.run_for(100)
    await tap.until(lambda t: t.connections == 2 and t.count("welcome", t.received) == 2)
    await connected(bertil)
    await expect(bertil.locator("#message-list")).to_contain_text("Kadonnut")
    await expect(bertil.locator("#message-list .message")).to_have_count(2)
    hello = [f for f in tap.sent if f["type"] == "hello"][-1]
    assert hello["resume"] == {str(conversation): 1}


class HeldHistory:
    """A conversation's history request is read by the server at once and answered to the
    page only when the test frees it (a loaded server, a slow network)."""

    def __init__(self) -> None:
        self.read, self.free = asyncio.Event(), asyncio.Event()

    async def install(self, context: BrowserContext, conversation: int) -> None:
        async def held(route: Route) -> None:
            response = await route.fetch()
            self.read.set()
            await self.free.wait()
            await route.fulfill(response=response)

        await context.route(re.compile(rf"/api/conversations/{conversation}/messages$"), held)


async def test_a_message_that_arrives_while_a_conversation_opens_is_kept(
    browser: Browser,
    server: Server,
) -> None:
    """Bertil opens a conversation; its history is read before Aino's next message is
    stored, and that message's frame reaches the page before the history does. The page
    shows it at once, and then both, once each."""
    context, bertil = await logged_in(browser, server, "bertil")
    writer = await server.client("aino")
    aino = await writer.socket()
    conversation = await direct(writer, server.people["bertil"])
    await aino.send({"type": "send", "id": "m1", "conversation_id": conversation, "body": "Ennen"})
    await aino.expect("ack", id="m1")
    history = HeldHistory()
    await history.install(context, conversation)
    await go(bertil, f"/conversations/{conversation}")
    await asyncio.wait_for(history.read.wait(), SAFETY_SECONDS)
    await aino.send({"type": "send", "id": "m2", "conversation_id": conversation, "body": "Kesken"})
    await aino.expect("ack", id="m2")
    await expect(bertil.locator("#message-list")).to_contain_text("Kesken")
    history.free.set()
    await expect(bertil.locator("#message-list")).to_contain_text("Ennen")
    await expect(bertil.locator("#message-list .message")).to_have_count(2)


async def test_a_conversation_opened_while_another_loads_stays_shown(
    browser: Browser,
    server: Server,
) -> None:
    """Bertil opens one conversation and, before its history has come, another: when the
    first one's history arrives, the second stays on the screen."""
    context, bertil = await logged_in(browser, server, "bertil")
    slow = await direct(await server.client("aino"), server.people["bertil"])
    other = await direct(await server.client("cecilia"), server.people["bertil"])
    history = HeldHistory()
    await history.install(context, slow)
    await go(bertil, f"/conversations/{slow}")
    await asyncio.wait_for(history.read.wait(), SAFETY_SECONDS)
    await go(bertil, f"/conversations/{other}")
    await expect(bertil.locator("#chat-heading")).to_contain_text("Cecilia")
    history.free.set()
    # Once nothing is in flight, the first conversation's answer has been handled.
    await expect(bertil.locator('body[data-pending="0"]')).to_have_count(1)
    await expect(bertil.locator("#chat-heading")).to_contain_text("Cecilia")
    assert "Aino" not in (await bertil.locator("#chat-heading").text_content() or "")
