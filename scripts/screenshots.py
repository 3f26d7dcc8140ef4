"""Takes the README's screenshots from the demo data: `scripts/screenshots`.

Starts a demo server on a free loopback port with a temporary database, signs in two
demo users in Debian's chromium, and saves PNGs of the main views in docs/screenshots.
`scripts/screenshots.py load` takes the load view (load.png) only.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select, update

from liaison.config import Settings
from liaison.demo import DEMO_PASSWORD, seed_demo
from liaison.services.core import Core
from liaison.store.models import CallbackRequest, Person
from liaison.web.app import create_app

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


async def login(page: Page, username: str) -> None:
    await page.goto("/login")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("form button.primary")
    await expect(page.locator("#people-list .person").first).to_be_visible()


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
        viewport = {"width": 1440, "height": 900}
        expert = await (await browser.new_context(base_url=url, viewport=viewport)).new_page()
        await login(expert, "tuomas.heikkinen")
        await expert.select_option("#my-status-select", "available")
        await expert.fill("#my-note", "Asumistuen kysymykset klo 12 asti")
        await expert.press("#my-note", "Tab")
        others = []
        for username in ("minna.jaaskelainen", "elina.huttunen", "sanna.korhonen"):
            page = await (await browser.new_context(base_url=url, viewport=viewport)).new_page()
            await login(page, username)
            others.append(page)
        await others[0].select_option("#my-status-select", "dnd")
        specialist = await (await browser.new_context(base_url=url, viewport=viewport)).new_page()
        await login(specialist, "aino.lehtonen")
        await specialist.locator("#conversation-list .conversation-button").first.click()
        await specialist.fill("#compose-input", "Kiitos! Kirjaan tämän asiakkaalle.")
        await specialist.press("#compose-input", "Enter")
        await specialist.fill("#search-input", "asumistuki")
        await expect(specialist.locator("#people-list .person").first).to_be_visible()
        await specialist.wait_for_timeout(800)
        await specialist.screenshot(path=str(OUT / "chat.png"))
        await specialist.goto("/me")
        await specialist.screenshot(path=str(OUT / "profile.png"), full_page=True)
        admin = await (await browser.new_context(base_url=url, viewport=viewport)).new_page()
        await login(admin, "heidi.salonen")
        await admin.goto("/admin")
        sample = Path(tempfile.mkdtemp()) / "yhteystiedot.csv"
        sample.write_text(
            "sähköposti;etunimi;sukunimi;organisaatio;rooli;etuus\n"
            "uusi.kayttaja@kela.example;Uusi;Käyttäjä;Kela;ratkaisuasiantuntija;asumistuki\n"
            "virheellinen-osoite;Virhe;Rivi;Kela;astronautti;\n",
            encoding="utf-8",
        )
        await admin.set_input_files("#import-file", str(sample))
        await admin.click("form[enctype] button.primary")
        await expect(admin.locator("#import-report")).to_be_visible()
        await admin.set_viewport_size({"width": 1100, "height": 760})
        await admin.screenshot(path=str(OUT / "admin-import.png"))
        swedish = await (await browser.new_context(base_url=url, viewport=viewport)).new_page()
        await login(swedish, "ida.backman")
        await swedish.select_option("#language-select", "sv")
        await swedish.click(".language-form button")
        await expect(swedish.locator("html")).to_have_attribute("lang", "sv")
        await swedish.wait_for_timeout(800)
        await swedish.screenshot(path=str(OUT / "directory-sv.png"))
        # Last: it signs people into a ring and leaves a question waiting.
        await shoot_load(browser, url, core)
        await browser.close()


async def shoot_load(browser: Browser, url: str, core: Core) -> None:
    """The load view as a supervisor sees it: the demo's past weeks and some of today."""
    async with core.db() as db:
        rows = (await db.execute(select(Person.id, Person.email))).all()
    ids = {email.split("@", 1)[0]: person_id for person_id, email in rows}
    ring, rings = "housing_allowance", core.rings
    viewport = {"width": 1440, "height": 900}
    # One member online and signed in (available, so free), two more signed in offline.
    expert = await (await browser.new_context(base_url=url, viewport=viewport)).new_page()
    await login(expert, "jari.turunen")
    expert_id = ids["jari.turunen"]
    for name in ("jari.turunen", "johanna.virtanen", "paivi.rautiainen"):
        await rings.sign_in(ids[name], ring, True)
    askers = ["aino.lehtonen", "ida.backman", "aino.lehtonen", "ida.backman"]
    for number, asker in enumerate(askers):
        question = await rings.ask(ids[asker], ring, f"Demokysymys {number + 1}")
        consultation = await rings.accept(expert_id, question["question_id"])
        if number < len(askers) - 1:
            await rings.close_consultation(expert_id, consultation["id"], "answered", "statement")
    # The expert is busy in the last consultation: the next question waits in the queue.
    await rings.ask(ids["aino.lehtonen"], ring, "Demokysymys jonossa")
    overdue = await rings.create_callback(
        ids["ida.backman"], owner_ring_id=ring, note="Soittopyyntö (demo)", due_minutes=30
    )
    await rings.create_callback(
        ids["aino.lehtonen"], owner_ring_id=ring, note="Toinen soittopyyntö", due_minutes=60
    )
    async with core.db.begin() as db:
        await db.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == overdue["id"])
            .values(due_at=core.clock.now() - timedelta(minutes=5))
        )
    supervisor = await (await browser.new_context(base_url=url, viewport=viewport)).new_page()
    await login(supervisor, "kirsi.savolainen")
    await supervisor.goto("/load")
    card = supervisor.locator(f'.load-ring[data-ring-id="{ring}"]')
    await expect(card.locator('[data-stat="waiting"] dd')).to_have_text("1")
    await supervisor.select_option("#history-days", "30")
    await expect(supervisor.locator("#history")).to_contain_text("30")
    await expect(supervisor.locator("#history svg.chart")).to_have_count(3)
    await expect(supervisor.locator("#people table")).to_be_visible()
    await supervisor.wait_for_timeout(3000)  # the longest wait ticks on
    await supervisor.screenshot(path=str(OUT / "load.png"), full_page=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None)))
