"""Presence as viewers see it, through real WebSockets against a running server."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from liaison.store.models import PresenceSettings
from tests.conftest import Server, database_of


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
    # Offline once the grace period for reloads (1 s in tests) has passed, not before.
    await watcher.no_frame("presence", person_id=server.people["bertil"], status="offline")
    await server.advance(1)
    frame = await watcher.expect("presence", person_id=server.people["bertil"], status="offline")
    assert frame["last_seen"] is not None


async def test_closing_one_tab_while_another_is_open_changes_nothing(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await server.client("bertil")
    first, second = await bertil.socket(), await bertil.socket()
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")
    await first.close()
    await server.advance(1)
    await watcher.no_frame("presence", person_id=server.people["bertil"])
    await second.close()
    await server.advance(1)
    await watcher.expect("presence", person_id=server.people["bertil"], status="offline")


async def test_a_reload_does_not_flash_offline(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await server.client("bertil")
    tab = await bertil.socket()
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")
    await tab.close()
    reloaded = await bertil.socket()  # within the grace period
    await server.advance(5)
    await watcher.no_frame("presence", person_id=server.people["bertil"], status="offline")
    await reloaded.close()


async def test_a_connection_that_dies_silently_goes_offline(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await server.client("bertil")
    silent = await bertil.socket()
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")
    # The silent client sends no heartbeat: the server must notice on its own, at the
    # heartbeat timeout (30 s) and not before.
    silent.mute()
    await server.advance(29)
    await watcher.no_frame("presence", person_id=server.people["bertil"], status="offline")
    await server.advance(1)
    frame = await watcher.expect("presence", person_id=server.people["bertil"], status="offline")
    assert frame["last_seen"] is not None
    assert await silent.closed() == 4010
    # Heartbeats kept the watcher itself online all along.
    await watcher.no_frame("presence", person_id=server.people["aino"], status="offline")


async def test_heartbeats_keep_a_connection_alive(server: Server) -> None:
    """Ten heartbeat timeouts pass; the tab's heartbeats (one per settle step) keep it on."""
    aino = await (await server.client("aino")).socket()
    await server.advance(300)
    await aino.send({"type": "heartbeat"})
    await aino.expect("heartbeat_ack")
    assert server.core.presence.view(server.people["aino"])["status"] == "available"


async def test_idle_in_every_client_means_away(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await server.client("bertil")
    first, second = await bertil.socket(), await bertil.socket()
    await first.send({"type": "heartbeat", "active": False})
    await watcher.no_frame("presence", person_id=server.people["bertil"], status="away")
    await second.send({"type": "heartbeat", "active": False})
    await watcher.expect("presence", person_id=server.people["bertil"], status="away")
    await second.send({"type": "heartbeat", "active": True})
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")


async def test_do_not_disturb_with_end_time_and_note(server: Server) -> None:
    watcher = await (await server.client("aino")).socket()
    bertil = await (await server.client("bertil")).socket()
    until = (server.clock.now() + timedelta(seconds=120)).isoformat()
    await bertil.send(
        {"type": "set_presence", "status": "dnd", "dnd_until": until, "note": "Kokous"}
    )
    reply = await bertil.expect("presence_set")
    assert reply["presence"]["status"] == "dnd"
    frame = await watcher.expect("presence", person_id=server.people["bertil"], status="dnd")
    assert frame["note"] == "Kokous" and frame["dnd_until"]
    # The end time passes: back to available without anyone doing anything.
    await server.advance(119)
    await watcher.no_frame("presence", person_id=server.people["bertil"], status="available")
    await server.advance(1)
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")


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
        # Nested, so the database is dropped only after both servers have run.
        async with server_factory(**database_of(srv)) as again:  # type: ignore[operator]
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
        await server.settle()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    async with server.core.db() as db:
        seen = dict(
            (
                await db.execute(select(PresenceSettings.person_id, PresenceSettings.last_seen_at))
            ).all()
        )
    assert all(seen.get(server.people[n]) is not None for n in names)
