"""axe-core's WCAG 2.1 A and AA rules on the login page and every view of the workspace, in
Finnish, Swedish and English: no violations.

Every language is audited at a desktop size (1366x768): the names, labels and the page's
language are what a language changes. Finnish is audited at a phone size (390x844) too,
for what the layout changes; the phone's own controls (its menu) in every language.

The views are audited with something in them: rings with counts, a question of one's own
waiting, a missed offer, an open consultation with its pinned question, a callback request,
the load view's ring cards."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import Server
from tests.test_browser import (  # noqa: F401
    DESKTOP,
    PHONE,
    audit,
    go,
    logged_in,
    pytestmark,
)
from tests.test_rings import config, signed_in, with_rings

MEMBERS = ["bertil@kela.example", "admin@kela.example", "daniel@kela.example"]


async def setup(server: Server) -> int:
    await with_rings(server, config(members=MEMBERS, alert_seconds=20))
    rings, people = server.core.rings, server.people
    await rings.sign_in(people["admin"], "housing", True)
    admin = await (await server.client("admin")).socket()  # online, so offered
    aino = await (await server.client("aino")).socket()
    await aino.send(
        {"type": "ask", "ring_id": "housing", "question": "Ohi mennyt kysymys", "ref": 1}
    )
    missed = (await aino.expect("question_status", ref=1))["question"]["question_id"]
    await admin.expect("offer", question_id=missed)
    await server.advance(20)  # rings out: a missed offer in the admin's list
    await aino.send({"type": "cancel", "question_id": missed})
    await admin.send({"type": "ring_resume"})
    # A callback request to the admin's ring, and a question of the admin's waiting.
    await aino.send(
        {"type": "callback_create", "owner_ring_id": "housing", "note": "Soita minulle", "ref": 2}
    )
    await aino.expect("callback_created", ref=2)
    await admin.send(
        {"type": "ask", "ring_id": "liaison-jarvi", "question": "Odottava kysymys", "ref": 3}
    )
    await admin.expect("question_status", ref=3)
    # An open consultation: the admin asks, Bertil answers.
    await rings.sign_in(people["admin"], "housing", False)
    bertil = await signed_in(server, "bertil")
    await admin.send({"type": "ask", "ring_id": "housing", "question": "Avoin kysymys", "ref": 4})
    asked = (await admin.expect("question_status", ref=4))["question"]["question_id"]
    await bertil.expect("offer", question_id=asked)
    await bertil.send({"type": "accept", "question_id": asked})
    consultation = (await bertil.expect("accepted"))["consultation"]
    await admin.close()
    return int(consultation["conversation_id"])


async def settled_view(page: Page, path: str) -> None:
    await go(page, path)
    await expect(page.locator('body[data-pending="0"]')).to_have_count(1)
    await expect(page.locator('body[data-connection="online"]')).to_have_count(1)


@pytest.mark.long
@pytest.mark.parametrize("language", ["fi", "sv", "en"])
async def test_every_view_in_every_language_and_at_both_sizes(
    browser: Browser,
    server_factory: Any,
    language: str,
) -> None:
    async with server_factory(heartbeat_timeout_seconds=3600.0) as srv:
        conversation = await setup(srv)
        # The login page, before anyone is logged in.
        login_context = await browser.new_context(base_url=srv.url, viewport=DESKTOP)
        await login_context.add_cookies(
            [{"name": "liaison_lang", "value": language, "url": srv.url}]
        )
        login = await login_context.new_page()
        for viewport in (DESKTOP, PHONE):
            await login.set_viewport_size(viewport)
            await login.goto("/login")
            await expect(login.locator("html")).to_have_attribute("lang", language)
            await audit(login, f"{language} {viewport['width']} /login")
        await login_context.close()
        views = [
            "/",
            f"/people/{srv.people['bertil']}",
            "/conversations",
            f"/conversations/{conversation}",
            "/rings",
            "/log",
            "/load",
            "/me",
            "/admin",
        ]
        context, page = await logged_in(browser, srv, "admin", language=language)
        await expect(page.locator("#missed-list .missed-card")).to_have_count(1)
        for viewport in (DESKTOP, PHONE):
            await page.set_viewport_size(viewport)
            # Another language at the phone's size changes only words, audited at desktop.
            every_view = viewport == DESKTOP or language == "fi"
            for path in views if every_view else []:
                await settled_view(page, path)
                if path.startswith("/conversations/"):
                    await expect(page.locator("#consultation-pin")).to_be_visible()
                if path == "/load":
                    await expect(page.locator(".load-ring").first).to_be_visible()
                await audit(page, f"{language} {viewport['width']} {path}")
            # The dialogs, on top of the directory: asking, and a question ringing.
            if every_view:
                await settled_view(page, "/rings")
                await page.keyboard.press("Alt+K")
                await expect(page.locator("#ask-dialog")).to_be_visible()
                await page.locator("#ask-dialog details.ask-more summary").click()
                await audit(page, f"{language} {viewport['width']} ask dialog")
                await page.keyboard.press("Escape")
                await settled_view(page, f"/conversations/{conversation}")
                await page.locator("#note-button").click()
                await audit(page, f"{language} {viewport['width']} note dialog")
                await page.keyboard.press("Escape")
            # The phone's menu, open.
            if viewport == PHONE:
                await page.locator("#menu-button").click()
                await expect(page.locator("#more-menu")).to_be_visible()
                await audit(page, f"{language} phone menu")
                await page.locator("#menu-button").click()
        await expect(page.locator("html")).to_have_attribute("lang", language)
        assert re.search(r"Liaison", await page.title())
        await context.close()
