"""Presence as viewers see it, through real WebSockets against a running server."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from liaison.protocol.client import SetPresence
from liaison.store import repositories
from liaison.store.models import PresenceSettings
from tests.conftest import Server, database_of


async def test_welcome_carries_only_the_presence_this_client_shows(server: Server) -> None:
    """Oneself, the people named in hello's `watch`, the members of one's conversations:
    not the whole directory."""
    aino = await server.client("aino")
    await aino.api("POST", "/api/conversations", json={"person_id": server.people["cecilia"]})
    sock = await aino.socket(watch=[server.people["bertil"]])
    views = {v["person_id"]: v for v in sock.welcome["presence"]}
    assert set(views) == {server.people[n] for n in ("aino", "bertil", "cecilia")}
    assert views[server.people["aino"]]["status"] == "available"
    assert views[server.people["bertil"]]["status"] == "offline"
    assert all(v["changed_at"] for v in views.values())
    assert sock.welcome["me"]["person"]["id"] == server.people["aino"]


async def test_a_change_reaches_only_the_connections_that_show_the_person(
    server: Server,
) -> None:
    bertil_id = server.people["bertil"]
    watcher = await (await server.client("aino")).socket(watch=[bertil_id])
    bystanders = [await (await server.client(n)).socket() for n in ("cecilia", "daniel", "eeva")]
    tab = await (await server.client("bertil")).socket()
    await watcher.expect("presence", person_id=bertil_id, status="available")
    await tab.send({"type": "set_presence", "status": "away"})
    await watcher.expect("presence", person_id=bertil_id, status="away")
    for sock in bystanders:
        await sock.no_frame("presence", person_id=bertil_id)
    # Nobody else's arrival reached anyone who does not show them either.
    for sock in (watcher, *bystanders):
        assert {f["person_id"] for f in sock.seen if f["type"] == "presence"} <= {
            bertil_id,
            sock.welcome["me"]["person"]["id"],
        }


async def test_watch_changes_whom_a_connection_hears_about(server: Server) -> None:
    bertil_id, cecilia_id = server.people["bertil"], server.people["cecilia"]
    aino = await (await server.client("aino")).socket()
    await (await server.client("bertil")).socket()
    await aino.no_frame("presence", person_id=bertil_id)
    await aino.send({"type": "watch", "people": [bertil_id, cecilia_id], "ref": 1})
    reply = await aino.expect("presence_views", ref=1)
    # The people newly shown, as they are now: no frame was missed in between.
    assert {v["person_id"]: v["status"] for v in reply["presence"]} == {
        bertil_id: "available",
        cecilia_id: "offline",
    }
    cecilia = await (await server.client("cecilia")).socket()
    await aino.expect("presence", person_id=cecilia_id, status="available")
    # A new list replaces the old one: cecilia is no longer shown.
    await aino.send({"type": "watch", "people": [bertil_id], "ref": 2})
    assert (await aino.expect("presence_views", ref=2))["presence"] == []
    await cecilia.send({"type": "set_presence", "status": "dnd"})
    await cecilia.expect("presence_set")
    await aino.no_frame("presence", person_id=cecilia_id)


async def test_people_in_a_new_conversation_see_each_other(server: Server) -> None:
    aino_client = await server.client("aino")
    aino = await aino_client.socket()
    daniel = await (await server.client("daniel")).socket()
    await aino.no_frame("presence", person_id=server.people["daniel"])
    response = await aino_client.api(
        "POST", "/api/conversations", json={"person_id": server.people["daniel"]}
    )
    assert response.status_code in (200, 201)
    await daniel.send({"type": "set_presence", "status": "away"})
    await aino.expect("presence", person_id=server.people["daniel"], status="away")


async def test_a_reconnect_catches_up_from_its_cursor(server: Server) -> None:
    bertil_id = server.people["bertil"]
    aino = await server.client("aino")
    await server.advance(1)  # cecilia's view is from the start, before the cursor
    first = await aino.socket(watch=[bertil_id, server.people["cecilia"]])
    cursor = first.welcome["presence_at"]
    await first.close()
    await server.advance(1)
    await (await server.client("bertil")).socket()
    again = await aino.socket(watch=[bertil_id, server.people["cecilia"]], presence_since=cursor)
    # Only what changed since: bertil came online, cecilia did not change.
    changed = {v["person_id"] for v in again.welcome["presence"]}
    assert bertil_id in changed and server.people["cecilia"] not in changed
    # The same catch-up on demand, on a live connection.
    await server.advance(1)
    await again.send({"type": "presence_sync", "since": server.clock.now().isoformat(), "ref": 3})
    assert (await again.expect("presence_views", ref=3))["presence"] == []


async def test_bad_watch_lists_are_refused(server_factory: Any) -> None:
    async with server_factory(max_watch=3) as srv:
        sock = await (await srv.client("aino")).socket()
        for people, code in (
            ([1, 2, 3, 4], "too_many"),
            (["1"], "bad_field"),
            ([True], "bad_field"),
            ([2**63], "bad_field"),
            ("1,2", "bad_field"),
        ):
            await sock.send({"type": "watch", "people": people})
            assert (await sock.expect("error"))["code"] == code
        await sock.send({"type": "presence_sync", "since": "yesterday"})
        assert (await sock.expect("error"))["code"] == "bad_field"
        # Ids of nobody are simply not shown.
        await sock.send({"type": "watch", "people": [999999], "ref": 9})
        assert (await sock.expect("presence_views", ref=9))["presence"] == []


async def test_colleague_coming_online_and_going_offline_is_seen_live(server: Server) -> None:
    watcher = await (await server.client("aino")).socket(watch=[server.people["bertil"]])
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
    watcher = await (await server.client("aino")).socket(watch=[server.people["bertil"]])
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
    watcher = await (await server.client("aino")).socket(watch=[server.people["bertil"]])
    bertil = await server.client("bertil")
    tab = await bertil.socket()
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")
    await tab.close()
    reloaded = await bertil.socket()  # within the grace period
    await server.advance(5)
    await watcher.no_frame("presence", person_id=server.people["bertil"], status="offline")
    await reloaded.close()


async def test_a_connection_that_dies_silently_goes_offline(server: Server) -> None:
    watcher = await (await server.client("aino")).socket(watch=[server.people["bertil"]])
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
    assert server.core.presence.shown(server.people["aino"]).status == "available"


async def test_idle_in_every_client_means_away(server: Server) -> None:
    watcher = await (await server.client("aino")).socket(watch=[server.people["bertil"]])
    bertil = await server.client("bertil")
    first, second = await bertil.socket(), await bertil.socket()
    await first.send({"type": "heartbeat", "active": False})
    await watcher.no_frame("presence", person_id=server.people["bertil"], status="away")
    await second.send({"type": "heartbeat", "active": False})
    await watcher.expect("presence", person_id=server.people["bertil"], status="away")
    await second.send({"type": "heartbeat", "active": True})
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")


async def test_do_not_disturb_with_end_time_and_note(server: Server) -> None:
    watcher = await (await server.client("aino")).socket(watch=[server.people["bertil"]])
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
    watcher = await (await server.client("aino")).socket(watch=[server.people["bertil"]])
    bertil = await (await server.client("bertil")).socket()
    await bertil.send({"type": "set_presence", "status": "away"})
    await watcher.expect("presence", person_id=server.people["bertil"], status="away")
    await bertil.send({"type": "set_presence", "status": "available"})
    await watcher.expect("presence", person_id=server.people["bertil"], status="available")


async def test_out_of_office_and_phone_hours_reach_viewers(server: Server) -> None:
    watcher = await (await server.client("aino")).socket(watch=[server.people["bertil"]])
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
            sock = await (await again.client("bertil")).socket()  # oneself is always shown
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
        # Stored together, within a second of the first close.
        async with server.core.db() as db:
            assert not (await db.execute(select(PresenceSettings.last_seen_at))).all()
        await server.advance(1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    async with server.core.db() as db:
        seen = dict(
            (
                await db.execute(select(PresenceSettings.person_id, PresenceSettings.last_seen_at))
            ).all()
        )
    assert all(seen.get(server.people[n]) is not None for n in names)


async def test_an_earlier_last_seen_stored_later_does_not_replace_a_later_one(
    server: Server,
) -> None:
    """Two nodes each store the closes of their own tabs of one person, a second apart at
    most: the one that writes last may carry the earlier time, and must not win."""
    aino = server.people["aino"]
    later = server.clock.now()
    async with server.core.db.begin() as db:
        await repositories.touch_last_seen(db, {aino: later})
    async with server.core.db.begin() as db:
        await repositories.touch_last_seen(db, {aino: later - timedelta(seconds=1)})
    async with server.core.db() as db:
        stored = await db.scalar(
            select(PresenceSettings.last_seen_at).where(PresenceSettings.person_id == aino)
        )
    assert stored == later
    async with server.core.db.begin() as db:
        await repositories.touch_last_seen(db, {aino: later + timedelta(seconds=5)})
    async with server.core.db() as db:
        stored = await db.scalar(
            select(PresenceSettings.last_seen_at).where(PresenceSettings.person_id == aino)
        )
    assert stored == later + timedelta(seconds=5)


async def test_set_busy_racing_a_presence_edit_loses_neither(server: Server) -> None:
    """A consultation opening (busy) while the person edits their note: each changes its own
    field, so whichever reaches the bus first, both are there after (before, each sent a
    whole snapshot of the settings it had read, and the later one undid the other)."""
    presence, bertil = server.core.presence, server.people["bertil"]
    await asyncio.gather(
        presence.update(bertil, SetPresence(note="Puhelimessa")),
        presence.set_busy(bertil, True),
    )
    await server.settle()
    settings = presence.settings_of(bertil)
    assert settings.busy and settings.note == "Puhelimessa"
    # And the other way round.
    await asyncio.gather(
        presence.set_busy(bertil, False),
        presence.update(bertil, SetPresence(status="away")),
    )
    await server.settle()
    settings = presence.settings_of(bertil)
    assert not settings.busy and settings.manual_status == "away"
    assert settings.note == "Puhelimessa"


async def test_a_presence_edit_stores_only_the_fields_it_changes(server: Server) -> None:
    """Last seen is written by its own path: an edit made from an older copy of the
    settings must not put back an older last-seen time (nor any field it did not change)."""
    presence, bertil = server.core.presence, server.people["bertil"]
    await presence.update(bertil, SetPresence(note="Etätöissä"))
    await server.settle()
    # Written elsewhere after this node read the row: a newer last seen.
    seen = server.clock.now().replace(microsecond=0) + timedelta(minutes=5)
    async with server.core.db.begin() as db:
        await repositories.touch_last_seen(db, {bertil: seen})
    await presence.update(bertil, SetPresence(status="dnd"))
    async with server.core.db() as db:
        row = await db.get(PresenceSettings, bertil)
    assert row is not None
    assert row.manual_status == "dnd" and row.note == "Etätöissä"
    assert row.last_seen_at is not None and row.last_seen_at.replace(tzinfo=None) == seen.replace(
        tzinfo=None
    )
