"""The load view (/load, docs/load.md) in a real browser: live queue and today's figures
for a supervisor, history charts with their tables and CSV link, and own figures."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, Route, expect

from tests.conftest import Server
from tests.test_browser import audit, logged_in, pytestmark  # noqa: F401
from tests.test_rings import config, signed_in, with_rings

# Three members: the ring's today and history figures are not suppressed.
THREE = ["bertil@kela.example", "daniel@kela.example", "eeva@kela.example"]


async def open_load(page: Page) -> None:
    await (
        page.get_by_role("navigation", name="Päävalikko")
        .get_by_role("link", name="Kuormitus")
        .click()
    )
    await expect(page.get_by_role("heading", name="Kuormitus", level=1)).to_be_visible()


async def test_a_supervisor_sees_the_queue_and_today_live(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server, config(members=THREE))
    bertil = await signed_in(server, "bertil")
    _, eeva = await logged_in(browser, server, "eeva")
    await eeva.clock.install()  # the page's own timers: moved by the test, like the server's
    await open_load(eeva)
    card = eeva.locator('.load-ring[data-ring-id="housing"]')
    await expect(card.get_by_role("heading", name="Yleinen asumistuki")).to_be_visible()
    waiting = card.locator('[data-stat="waiting"] dd')
    longest = card.locator('[data-stat="longest_wait"] dd')
    answered = card.locator('.figures [data-stat="answered"] dd')
    await expect(waiting).to_have_text("0")
    await expect(card.locator('[data-stat="signed_in"] dd')).to_have_text("1")
    await expect(card.locator('[data-stat="free"] dd')).to_have_text("1")
    await expect(longest).to_have_text("–")
    await expect(answered).to_have_text("0")
    # The queue is announced politely; the ticking wait is outside the live region.
    live = card.locator('[aria-live="polite"]').first
    await expect(live.locator('[data-stat="waiting"]')).to_have_count(1)
    await expect(live.locator('[data-stat="longest_wait"]')).to_have_count(0)

    aino = await (await server.client("aino")).socket()
    await aino.send(
        {"type": "ask", "ring_id": "housing", "question": "Tulorajat kahdelle?", "ref": 1}
    )
    question_id = (await aino.expect("question_status", ref=1))["question"]["question_id"]
    await bertil.expect("offer", question_id=question_id)
    # Without reloading: one waiting, ringing for Bertil, and the longest wait ticks.
    await expect(waiting).to_have_text("1")
    await expect(card.locator('[data-stat="ringing"] dd')).to_have_text("1")
    await expect(card.locator('.figures [data-stat="offered"] dd')).to_have_text("1")
    await expect(longest).to_have_text(re.compile(r"^0:0\d$"))
    first = await longest.text_content()
    await eeva.clock.fast_forward(2000)
    await expect(longest).not_to_have_text(first or "")

    await bertil.send({"type": "accept", "question_id": question_id})
    await bertil.expect("accepted")
    await expect(waiting).to_have_text("0")
    await expect(longest).to_have_text("–")
    await expect(answered).to_have_text(re.compile(r"^1\b"))
    await expect(card.locator('.figures [data-stat="service_level"] dd')).to_contain_text(
        "tavoite 60 s"
    )
    # Eeva supervises Bertil: his figures for today are in the per-person table.
    await card.get_by_role("button", name=re.compile("Historia ja henkilöt")).click()
    await expect(eeva.locator("#ring-details-heading")).to_be_focused()
    people = eeva.locator("#people table")
    await expect(people).to_contain_text("Bertil Bostad")
    bertil_row = people.locator("tbody tr").filter(has_text="Bertil Bostad")
    await expect(bertil_row.locator("td").nth(1)).to_have_text("1")
    await aino.close()
    await bertil.close()


async def test_history_charts_tables_csv_and_accessibility(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server, config(members=THREE))
    _, eeva = await logged_in(browser, server, "eeva")
    await open_load(eeva)
    await expect(eeva.locator('.load-ring[data-ring-id="housing"]')).to_be_visible()
    await eeva.locator("#view-load").get_by_label("Rinki", exact=True).select_option("housing")
    history = eeva.locator("#history")
    await expect(history.locator("svg.chart")).to_have_count(3)
    for chart in await history.locator("svg.chart").all():
        await expect(chart).to_have_attribute("role", "img")
        title = chart.locator(":scope > title")
        await expect(title).to_contain_text("Samat luvut ovat alla olevassa taulukossa")
        assert await chart.get_attribute("aria-labelledby") == await title.get_attribute("id")
    csv = eeva.locator("#view-load").get_by_role("link", name="Lataa CSV-tiedostona")
    await expect(csv).to_have_attribute("href", "/api/load/rings/housing/history.csv?days=7&by=day")
    # Seven days by day: seven rows in the table behind the charts.
    await history.locator("summary").first.click()
    await expect(history.locator("details table").first.locator("tbody tr")).to_have_count(7)
    await audit(eeva, "/load with history")

    await eeva.locator("#view-load").get_by_label("Jakso", exact=True).first.select_option("30")
    await eeva.locator("#view-load").get_by_label("Jaottelu").select_option("hour")
    await expect(csv).to_have_attribute(
        "href", "/api/load/rings/housing/history.csv?days=30&by=hour"
    )
    await expect(history).to_contain_text("viimeiset 30 päivää")
    await expect(history.locator("svg.chart")).to_have_count(3)
    response = await eeva.request.get("/api/load/rings/housing/history.csv?days=30&by=hour")
    assert response.status == 200
    header = (await response.text()).splitlines()[0]
    assert header.startswith("ring_id,start,offered,answered")
    await audit(eeva, "/load with hourly history")


async def test_small_rings_are_suppressed_for_admins(
    browser: Browser,
    server: Server,
) -> None:
    # The housing ring has two members: an admin sees its queue but not its figures.
    await with_rings(server)
    _, admin = await logged_in(browser, server, "admin")
    await open_load(admin)
    card = admin.locator('.load-ring[data-ring-id="housing"]')
    await expect(card.locator('[data-stat="waiting"] dd')).to_have_text("0")
    await expect(card.locator(".suppressed-note")).to_be_visible()
    await expect(card.locator(".suppressed-note")).to_contain_text("alle 3 jäsentä")
    await expect(card.locator(".figures")).to_be_hidden()
    await admin.locator("#view-load").get_by_label("Rinki", exact=True).select_option("housing")
    await expect(admin.locator("#history .suppressed-note")).to_be_visible()
    await expect(admin.locator("#history svg")).to_have_count(0)
    await audit(admin, "/load for an admin")


async def test_others_see_only_their_own_figures(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server, config(members=THREE))
    # Aino is in no ring and supervises no one.
    _, aino = await logged_in(browser, server, "aino")
    await open_load(aino)
    await expect(aino.get_by_role("heading", name="Omat lukuni")).to_be_visible()
    await expect(aino.locator("#me-status")).to_contain_text("Et ole minkään ringin jäsen")
    await expect(aino.locator(".load-ring")).to_have_count(0)
    await expect(aino.get_by_role("heading", name="Ringit nyt ja tänään")).to_have_count(0)
    await audit(aino, "/load for a non-supervisor")
    # Bertil is a member: his own row per ring, and still no ring cards.
    _, bertil = await logged_in(browser, server, "bertil")
    await open_load(bertil)
    mine = bertil.locator("#me table")
    await expect(mine).to_contain_text("Yleinen asumistuki")
    await expect(bertil.locator(".load-ring")).to_have_count(0)
    await bertil.locator("#view-load").get_by_label("Jakso").select_option("30")
    await expect(mine).to_contain_text("Yleinen asumistuki")
    await audit(bertil, "/load for a ring member")


async def test_a_failing_history_request_is_explained_and_the_page_stays_usable(
    browser: Browser,
    server: Server,
) -> None:
    await with_rings(server, config(members=THREE))
    _, eeva = await logged_in(browser, server, "eeva")

    async def broken(route: Route) -> None:
        await route.fulfill(
            status=503, json={"error": "unavailable", "reason": "tietokanta ei vastaa"}
        )

    await eeva.route(re.compile(r"/api/load/rings/[^/]+/history\?"), broken)
    await open_load(eeva)
    await expect(eeva.locator("#history-status")).to_contain_text(
        "Historiaa ei voitu ladata: tietokanta ei vastaa"
    )
    await expect(eeva.locator("#history-csv")).to_be_hidden()
    # The live part is unaffected, and the history comes once the server answers again.
    await expect(eeva.locator('.load-ring[data-ring-id="housing"]')).to_be_visible()
    await eeva.unroute(re.compile(r"/api/load/rings/[^/]+/history\?"), broken)
    await eeva.locator("#view-load").get_by_label("Jaottelu").select_option("hour")
    await expect(eeva.locator("#history svg.chart")).to_have_count(3)
    await expect(eeva.locator("#history-status")).to_have_text("")
    await expect(eeva.locator("#history-csv")).to_be_visible()
