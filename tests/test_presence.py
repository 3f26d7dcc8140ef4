"""Presence as viewers see it, through real WebSockets against a running server."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from liaison.store.models import PresenceSettings
from tests.conftest import Server


async def test_welcome_carries_presence_of_everyone(server: Server) -> None:
    aino = await server.client("aino")
    sock = await aino.socket()
    views = {v["person_id"]: v for v in sock.welcome["presence"]}
    assert views[server.people["aino"]]["status"] == "available"
    assert views[server.people["bertil"]]["status"] == "offline"
    assert sock.welcome["me"]["person"]["id"] == server.people["aino"]
    await sock.close()


async def test_colleague_coming_online_and_going_offline_is_seen_live(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await server.client("bertil")
    tab = await bertil.socket()
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")
    await tab.close()
    frame = await watcher.expect("presence", person_id=server.people["bertil"], status="offline")
    assert frame["last_seen"] is not None


async def test_closing_one_tab_while_another_is_open_changes_nothing(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await server.client("bertil")
    first, second = await bertil.socket(), await bertil.socket()
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")
    await first.close()
    await watcher.no_frame("presence", 2.5, person_id=server.people["bertil"])
    await second.close()
    await watcher.expect("presence", person_id=server.people["bertil"], status="offline")


async def test_a_reload_does_not_flash_offline(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await server.client("bertil")
    tab = await bertil.socket()
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")
    await tab.close()
    reloaded = await bertil.socket()  # within the grace period
    await watcher.no_frame("presence", 2.5, person_id=server.people["bertil"], status="offline")
    await reloaded.close()


async def test_a_connection_that_dies_silently_goes_offline(server_factory: object) -> None:
    async with server_factory(heartbeat_timeout_seconds=2.0) as srv:  # type: ignore[operator]
        watcher = await (await srv.client("aino")).socket()
        watcher.keep_alive()
        bertil = await srv.client("bertil")
        silent = await bertil.socket()
        await watcher.expect("presence", person_id=srv.people["bertil"], status="available")
        # The silent client sends no heartbeat: the server must notice on its own.
        frame = await watcher.expect(
            "presence", timeout=8, person_id=srv.people["bertil"], status="offline"
        )
        assert frame["status"] == "offline"
        await asyncio.wait_for(silent.ws.wait_closed(), 5)
        assert silent.ws.close_code == 4010
        # Heartbeats kept the watcher itself online all along.
        await watcher.no_frame("presence", 1, person_id=srv.people["aino"], status="offline")


async def test_heartbeats_keep_a_connection_alive(server_factory: object) -> None:
    async with server_factory(heartbeat_timeout_seconds=2.0) as srv:  # type: ignore[operator]
        aino = await (await srv.client("aino")).socket()
        for _ in range(5):
            await aino.send({"type": "heartbeat", "active": True})
            await aino.expect("heartbeat_ack")
            await asyncio.sleep(0.8)
        await aino.send({"type": "heartbeat"})
        await aino.expect("heartbeat_ack")


async def test_idle_in_every_client_means_away(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await server.client("bertil")
    first, second = await bertil.socket(), await bertil.socket()
    await first.send({"type": "heartbeat", "active": False})
    await watcher.no_frame("presence", 1.5, person_id=server.people["bertil"], status="away")
    await second.send({"type": "heartbeat", "active": False})
    await watcher.expect("presence", person_id=server.people["bertil"], status="away")
    await second.send({"type": "heartbeat", "active": True})
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")


async def test_do_not_disturb_with_end_time_and_note(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await (await server.client("bertil")).socket()
    until = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    await bertil.send(
        {"type": "set_presence", "status": "dnd", "dnd_until": until, "note": "Kokous"}
    )
    reply = await bertil.expect("presence_set")
    assert reply["presence"]["status"] == "dnd"
    frame = await watcher.expect("presence", person_id=server.people["bertil"], status="dnd")
    assert frame["note"] == "Kokous" and frame["dnd_until"]
    # The end time passes: back to available without anyone doing anything.
    await watcher.expect(
        "presence", timeout=6, person_id=server.people["bertil"], status="available"
    )


async def test_away_now_and_back(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await (await server.client("bertil")).socket()
    await bertil.send({"type": "set_presence", "status": "away"})
    await watcher.expect("presence", person_id=server.people["bertil"], status="away")
    await bertil.send({"type": "set_presence", "status": "available"})
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")


async def test_out_of_office_and_phone_hours_reach_viewers(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await server.client("bertil")
    response = await bertil.api(
        "PATCH",
        "/api/me/presence",
        json={
            "out_of_office_until": "2099-01-31",
            "out_of_office_note": "Lomalla",
            "phone_hours": [{"day": 0, "start": "09:00", "end": "11:00"}],
        },
    )
    assert response.status_code == 200, response.text
    frame = await watcher.expect("presence", person_id=server.people["bertil"])
    assert frame["out_of_office_until"] == "2099-01-31"
    assert frame["phone_hours"] == [{"day": 0, "start": "09:00", "end": "11:00"}]


async def test_bad_presence_input_is_refused_clearly(server: Server) -> None:
    bertil = await server.client("bertil")
    sock = await bertil.socket()
    cases = [
        {"status": "busy"},
        {"status": "dnd", "dnd_until": "yesterday"},
        {"status": "dnd", "dnd_until": "2020-01-01T00:00:00+00:00"},
        {"note": "x" * 201},
        {"phone_hours": [{"day": 7, "start": "09:00", "end": "10:00"}]},
        {"phone_hours": [{"day": 1, "start": "11:00", "end": "10:00"}]},
        {"out_of_office_until": "31.1.2099"},
        {"colour": "red"},
        {},
    ]
    for case in cases:
        await sock.send({"type": "set_presence", **case})
        error = await sock.expect("error")
        assert error["code"] in ("bad_status", "bad_field"), (case, error)
    # Nothing of it stuck, and the connection is still up.
    await sock.send({"type": "heartbeat"})
    await sock.expect("heartbeat_ack")
    me = (await bertil.api("GET", "/api/me")).json()
    assert me["person"]["presence"]["status"] == "available"
    assert me["person"]["presence"]["note"] == ""


async def test_presence_settings_survive_a_restart(server_factory: object) -> None:
    async with server_factory() as srv:  # type: ignore[operator]
        bertil = await srv.client("bertil")
        response = await bertil.api(
            "PATCH", "/api/me/presence", json={"note": "Etätöissä", "status": "dnd"}
        )
        assert response.status_code == 200
        database = {
            "database_url": srv.core.settings.database_url,
            "database_schema": srv.core.settings.database_schema,
        }
        # Nested, so a PostgreSQL schema is dropped only after both servers have run.
        async with server_factory(**database) as again:  # type: ignore[operator]
            sock = await (await again.client("bertil")).socket()
            me = again.people["bertil"]
            mine = next(v for v in sock.welcome["presence"] if v["person_id"] == me)
            assert mine["status"] == "dnd" and mine["note"] == "Etätöissä"


async def test_two_tabs_closing_at_once_both_record_last_seen(server: Server, caplog: Any) -> None:
    """Nobody has a presence row yet; both closing sockets write one at the same moment."""
    names = ["aino", "bertil", "cecilia", "daniel", "eeva"]
    sockets = []
    for name in names:
        client = await server.client(name)
        sockets += [await client.socket(), await client.socket()]
    with caplog.at_level(logging.ERROR):
        await asyncio.gather(*(s.close() for s in sockets))
        await asyncio.sleep(0.5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    async with server.core.db() as db:
        seen = dict(
            (
                await db.execute(select(PresenceSettings.person_id, PresenceSettings.last_seen_at))
            ).all()
        )
    assert all(seen.get(server.people[n]) is not None for n in names)
