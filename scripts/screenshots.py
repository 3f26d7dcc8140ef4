"""Takes the README's screenshots from the demo data: `scripts/screenshots`.

Starts a demo server on a free loopback port with a temporary database, signs in two
demo users in Debian's chromium, and saves PNGs of the main views in docs/screenshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn
from playwright.async_api import Page, async_playwright, expect

from liaison.config import Settings
from liaison.demo import DEMO_PASSWORD, seed_demo
from liaison.web.app import create_app

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


async def login(page: Page, username: str) -> None:
    await page.goto("/login")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("form button.primary")
    await expect(page.locator("#people-list .person").first).to_be_visible()


async def main() -> None:
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
            await shoot(f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await task
    print(f"screenshots written to {OUT}")


async def shoot(url: str) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
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
        await browser.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
