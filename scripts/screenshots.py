"""Takes the README's screenshots from the demo data: `scripts/screenshots`.

Starts a demo server on a free loopback port with a temporary database, signs in demo
users in Debian's chromium, and saves PNGs of the main views in docs/screenshots: the
ring path (directory, ask dialog, offer, consultation) at a desktop size (1366x768) and a
phone size (390x844, files phone-*.png), and the log, profile, import, Swedish and load
views on the desktop.
`scripts/screenshots.py load` takes the load view (load.png) only.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select, update

from liaison.config import Settings
from liaison.demo import DEMO_PASSWORD, seed_demo
from liaison.services.core import Core
from liaison.services.rings import RingServiceError
from liaison.store.models import CallbackRequest, Person
from liaison.web.app import create_app

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


async def login(browser: Browser, url: str, username: str, viewport: dict[str, int]) -> Page:
    # A Finnish browser: date and time inputs as Finnish users see them.
    context = await browser.new_context(base_url=url, viewport=viewport, locale="fi-FI")
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("form button.primary")
    await expect(page.locator("#people-list .person").first).to_be_visible()
    await expect(page.locator('body[data-connection="online"]')).to_have_count(1)
    return page


async def main(only: str | None = None) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/demo.db", port=port, demo=True)
        app = create_app(settings)
        server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=port, ws="websockets-sansio", log_level="warning"
            )
        )
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.05)
        await seed_demo(app.state.core)
        await app.state.core.presence.reload_people()
        try:
            await shoot(f"http://127.0.0.1:{port}", app.state.core, only)
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await task
    print(f"screenshots written to {OUT}")


async def shoot(url: str, core: Core, only: str | None = None) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        if only == "load":
            await shoot_load(browser, url, core)
            await browser.close()
            return
        for viewport, prefix in ((DESKTOP, ""), (PHONE, "phone-")):
            await shoot_ring_path(browser, url, viewport, prefix)
        admin = await login(browser, url, "heidi.salonen", DESKTOP)
        await admin.click('a[href="/admin"]')
        sample = Path(tempfile.mkdtemp()) / "yhteystiedot.csv"
        sample.write_text(
            "sähköposti;etunimi;sukunimi;organisaatio;rooli;etuus\n"
            "uusi.kayttaja@kela.example;Uusi;Käyttäjä;Kela;ratkaisuasiantuntija;asumistuki\n"
            "virheellinen-osoite;Virhe;Rivi;Kela;astronautti;\n",
            encoding="utf-8",
        )
        await admin.set_input_files("#import-file", str(sample))
        await admin.click("#import-form button.primary")
        await expect(admin.locator("#import-report table")).to_be_visible()
        await admin.screenshot(path=str(OUT / "admin-import.png"))
        swedish = await login(browser, url, "ida.backman", DESKTOP)
        await swedish.select_option("#language-select", "sv")
        await swedish.click(".language-form button")
        await expect(swedish.locator("html")).to_have_attribute("lang", "sv")
        await expect(swedish.locator('body[data-connection="online"]')).to_have_count(1)
        await swedish.screenshot(path=str(OUT / "directory-sv.png"))
        # Last: it signs people into a ring and leaves a question waiting.
        await shoot_load(browser, url, core)
        await browser.close()


async def shoot_ring_path(
    browser: Browser, url: str, viewport: dict[str, int], prefix: str
) -> None:
    """Ask → ring → accept → consult, as the asker and the expert see it, at one size."""
    phone = viewport is PHONE
    expert_name = "tuomas.heikkinen" if not phone else "mikael.gronroos"
    expert = await login(browser, url, expert_name, viewport)
    if phone:
        await expert.click('a[href="/rings"]')
    await expert.locator('#ring-list .ring[data-ring-id="housing_allowance"] input').check()
    await expect(
        expert.locator('#ring-list .ring[data-ring-id="housing_allowance"]')
    ).to_have_class(re.compile("signed-in"))
    asker = await login(browser, url, "aino.lehtonen" if not phone else "ida.backman", viewport)
    everyone = await asker.locator("#people-count").text_content()
    await asker.fill("#search-input", "asumistuki")
    await expect(asker.locator("#people-count")).not_to_have_text(everyone or "")
    await asker.screenshot(path=str(OUT / f"{prefix}directory.png"))
    if phone:
        await asker.click('a[href="/rings"]')
        await asker.screenshot(path=str(OUT / f"{prefix}rings.png"))
    await asker.locator('#ring-list .ring[data-ring-id="housing_allowance"] .ring-ask').click()
    await asker.fill(
        "#ask-question", "Huomioidaanko opintolaina asumistuen tuloissa, kun opiskelija asuu yksin?"
    )
    await asker.screenshot(path=str(OUT / f"{prefix}ask-dialog.png"))
    await asker.press("#ask-question", "Enter")
    await expect(asker.locator("#question-strip .question-item")).to_be_visible()
    offer = expert.locator("#offer-dialog")
    await expect(offer).to_be_visible()
    await expert.screenshot(path=str(OUT / f"{prefix}offer.png"))
    await offer.locator("#offer-accept").click()
    await expect(expert.locator("#consultation-pin")).to_be_visible()
    for page, text in (
        (expert, "Hei! Onko opintolaina nostettu tänä vuonna?"),
        (asker, "On, syyskuussa. Asiakas asuu yksin vuokralla."),
        (expert, "Nostettu opintolaina ei ole tuloa asumistuessa. Tulona huomioidaan opintoraha."),
    ):
        await expect(page.locator("#consultation-pin")).to_be_visible()
        await page.fill("#compose-input", text)
        await page.press("#compose-input", "Enter")
        await expect(page.locator("#message-list")).to_contain_text(text)
    await expect(asker.locator("#message-list")).to_contain_text("Tulona huomioidaan")
    await expert.screenshot(path=str(OUT / f"{prefix}consultation.png"))
    if not phone:
        await asker.click('a[href="/log"]')
        await expect(asker.locator("#log-body tr").first).to_be_visible()
        await asker.screenshot(path=str(OUT / "log.png"))
        await asker.click('a[href="/me"]')
        await expect(asker.locator("#profile-summary .big")).to_be_visible()
        await asker.set_viewport_size({"width": 1366, "height": 1300})
        await asker.screenshot(path=str(OUT / "profile.png"))
    await expert.click("#close-consultation-button")
    await expert.select_option("#close-topic", "clients_situation")
    await expert.click("#close-consultation-form button.primary")
    await expect(expert.locator("#compose-form")).to_be_hidden()
    for page in (expert, asker):
        await page.context.close()


async def accept_when_offered(core: Core, expert_id: int, question_id: str) -> Any:
    """The expert's browser has just connected: the offer follows once the server has
    counted them free (a script on the real clock, so a bounded wait)."""
    for _ in range(100):
        await core.settle()
        try:
            return await core.rings.accept(expert_id, question_id)
        except RingServiceError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the question was never offered to the expert")


async def shoot_load(browser: Browser, url: str, core: Core) -> None:
    """The load view as a supervisor sees it: the demo's past weeks and some of today."""
    async with core.db() as db:
        rows = (await db.execute(select(Person.id, Person.email))).all()
    ids = {email.split("@", 1)[0]: person_id for person_id, email in rows}
    ring, rings = "housing_allowance", core.rings
    viewport = DESKTOP
    # One member online and signed in (available, so free), two more signed in offline.
    await login(browser, url, "jari.turunen", viewport)
    expert_id = ids["jari.turunen"]
    for name in ("jari.turunen", "johanna.virtanen", "paivi.rautiainen"):
        await rings.sign_in(ids[name], ring, True)
    askers = ["aino.lehtonen", "ida.backman", "aino.lehtonen", "ida.backman"]
    for number, asker in enumerate(askers):
        question = await rings.ask(ids[asker], ring, f"Demokysymys {number + 1}")
        consultation = await accept_when_offered(core, expert_id, question["question_id"])
        await core.settle()
        if number < len(askers) - 1:
            await core.consultations.close_consultation(
                expert_id, consultation["id"], "answered", "statement"
            )
            await core.settle()
    # The expert is busy in the last consultation: the next question waits in the queue.
    await rings.ask(ids["aino.lehtonen"], ring, "Demokysymys jonossa")
    overdue = await core.callbacks.create_callback(
        ids["ida.backman"], owner_ring_id=ring, note="Soittopyyntö (demo)", due_minutes=30
    )
    await core.callbacks.create_callback(
        ids["aino.lehtonen"], owner_ring_id=ring, note="Toinen soittopyyntö", due_minutes=60
    )
    async with core.db.begin() as db:
        await db.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == overdue["id"])
            .values(due_at=core.clock.now() - timedelta(minutes=5))
        )
    supervisor = await login(browser, url, "kirsi.savolainen", viewport)
    await supervisor.click('a[href="/load"]')
    card = supervisor.locator(f'.load-ring[data-ring-id="{ring}"]')
    await expect(card.locator('[data-stat="waiting"] dd')).to_have_text("1")
    await supervisor.select_option("#history-days", "30")
    await expect(supervisor.locator("#history")).to_contain_text("30")
    await expect(supervisor.locator("#history svg.chart")).to_have_count(3)
    # Per-person rows show only where nobody's own figures could be worked out from the
    # totals (docs/load.md): over 30 days enough members were active.
    await supervisor.select_option("#people-days", "30")
    await expect(supervisor.locator("#people table")).to_be_visible()
    await supervisor.wait_for_timeout(3000)  # the longest wait ticks on
    # The view scrolls inside the workspace: a tall window shows the cards and the charts.
    await supervisor.set_viewport_size({"width": 1366, "height": 1500})
    await supervisor.screenshot(path=str(OUT / "load.png"))


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None)))
