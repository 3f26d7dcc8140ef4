"""The bus with channels: its contract on both backends (memory and Redis), and two nodes
sharing one Redis (the real one at 127.0.0.1:6379, LIAISON_TEST_REDIS_URL).

Each test's Redis buses get a namespace of their own, so parallel workers, the SQLite and
PostgreSQL passes and other runs on the same Redis never hear each other. In CI a Redis
that does not answer fails these tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import redis.asyncio

from liaison.bus.base import Bus, bus_from_url, url_problem
from liaison.bus.redis import RedisBus
from liaison.protocol.reference import CloseCode
from liaison.services.hub import SHARED, person_channel
from liaison.services.presence import FOLLOW_LEASE
from tests.conftest import Server, advance, free_port, namespaced, settle


@pytest.mark.parametrize(
    ("url", "problem"),
    [("kafka://x", "must start with"), ("redis://x:6379/0?namespace=two words", "namespace")],
)
def test_a_bad_bus_url_is_refused_as_the_setting_is(url: str, problem: str) -> None:
    assert problem in (url_problem(url) or "")
    with pytest.raises(ValueError, match=problem):
        bus_from_url(url)


class Inbox:
    """What a bus handed to its handler, in order."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []

    async def __call__(self, channel: str, message: str) -> None:
        # A handler that gives the loop a turn before it finishes (as one that writes to a
        # socket or the database does): idle() must wait for it to finish.
        turn = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(turn.set_result, None)
        await turn
        self.got.append((channel, message))


@pytest.fixture(params=["memory", "redis"])
async def bus_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = namespaced(request.getfixturevalue("redis_server"))
    return url


@pytest.fixture
async def bus(bus_url: str) -> AsyncIterator[tuple[Bus, Inbox]]:
    bus, inbox = bus_from_url(bus_url, queue_size=16), Inbox()
    await bus.start(inbox)
    yield bus, inbox
    await bus.stop()


# ---------------------------------------------------------------- the contract


async def test_order_is_kept_across_channels(bus: tuple[Bus, Inbox]) -> None:
    b, inbox = bus
    await b.subscribe(["a", "b"])
    sent = [("a" if i % 3 else "b", f"m{i}") for i in range(100)]  # more than the queue holds
    for channel, message in sent:
        await b.publish(channel, message)
    await b.idle()
    assert inbox.got == sent
    assert await b.ready()


async def test_a_node_receives_only_the_channels_it_holds(bus: tuple[Bus, Inbox]) -> None:
    b, inbox = bus
    await b.subscribe(["person:1"])
    await b.publish("person:2", "not here")
    await b.publish("person:1", "here\nwith a newline")
    await b.publish("all", "nor this")
    await b.idle()
    assert inbox.got == [("person:1", "here\nwith a newline")]


async def test_unsubscribing_stops_delivery(bus: tuple[Bus, Inbox]) -> None:
    b, inbox = bus
    await b.subscribe(["x", "y"])
    await b.publish("x", "0")
    await b.idle()
    await b.publish("x", "1")  # published while held, handled after letting go: not handed over
    await b.unsubscribe(["x"])
    await b.unsubscribe(["x"])  # again: nothing happens
    await b.publish("x", "2")
    await b.publish("y", "3")
    await b.idle()
    assert inbox.got == [("x", "0"), ("y", "3")]
    await b.subscribe(["x"])
    await b.publish("x", "4")
    await b.idle()
    assert inbox.got[-1] == ("x", "4")


async def test_idle_returns_with_nothing_published_and_after_stopping(
    bus: tuple[Bus, Inbox],
) -> None:
    b, inbox = bus
    await b.idle()
    await b.stop()
    assert not await b.ready()
    await b.stop()  # twice: harmless
    assert inbox.got == []


async def test_namespaces_keep_deployments_apart(redis_server: str) -> None:
    first, second = Inbox(), Inbox()
    one, other = bus_from_url(namespaced(redis_server)), bus_from_url(namespaced(redis_server))
    await one.start(first)
    await other.start(second)
    try:
        await one.subscribe(["all"])
        await other.subscribe(["all"])
        await one.publish("all", "one")
        await other.publish("all", "other")
        await one.idle()
        await other.idle()
        assert first.got == [("all", "one")] and second.got == [("all", "other")]
    finally:
        await one.stop()
        await other.stop()


async def test_publishing_while_redis_is_unreachable_fails_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listens on the port: publish neither raises nor waits long, the drops are
    counted and logged once for the outage, and /ready says down."""
    bus = bus_from_url(f"redis://127.0.0.1:{free_port()}/0", queue_size=4)
    assert isinstance(bus, RedisBus)
    await bus.start(Inbox())
    try:
        with caplog.at_level(logging.WARNING, logger="liaison.bus.redis"):
            for i in range(50):
                await bus.publish("all", f"m{i}")
            await bus._outbox.join()  # everything handed over has been dealt with
        assert bus.dropped == 50
        assert not bus.publishing.is_set()
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "dropped" in errors[0].getMessage()
        assert not any(r.exc_info for r in caplog.records)  # no traceback
        assert not await bus.ready()
    finally:
        await bus.stop()


async def kill(redis_server: str, bus: RedisBus, role: str) -> None:
    """Redis drops one connection of this bus (only it: other tests share this Redis)."""
    admin = redis.asyncio.Redis.from_url(redis_server)
    try:
        name = f"{bus._prefix}{bus.node_channel}:{role}"
        ours = [c for c in await admin.client_list() if c["name"] == name]
        assert len(ours) == 1, name
        kind = "pubsub" if role == "subscribe" else "normal"
        killed = await admin.execute_command(  # type: ignore[no-untyped-call]
            "CLIENT", "KILL", "ID", ours[0]["id"], "TYPE", kind
        )
        assert killed == 1
    finally:
        await admin.aclose()


async def test_a_dropped_publisher_connection_is_one_outage_then_publishing_resumes(
    redis_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus, inbox = bus_from_url(namespaced(redis_server)), Inbox()
    assert isinstance(bus, RedisBus)
    await bus.start(inbox)
    try:
        await bus.subscribe(["all"])
        await bus.publish("all", "before")
        await bus.idle()
        with caplog.at_level(logging.WARNING, logger="liaison.bus.redis"):
            await kill(redis_server, bus, "publish")
            for i in range(20):
                await bus.publish("all", f"lost {i}")
            await bus._outbox.join()  # the publisher met the dropped connection
            await bus.publishing.wait()  # and another task connected again
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and not any(r.exc_info for r in caplog.records)
        await bus.publish("all", "after")
        await bus.idle()
        assert inbox.got[0] == ("all", "before") and inbox.got[-1] == ("all", "after")
        assert await bus.ready()
    finally:
        await bus.stop()


# ---------------------------------------------------------------- two nodes


async def direct(server: Server, name: str, other: str) -> int:
    client = await server.client(name)
    response = await client.api(
        "POST", "/api/conversations", json={"person_id": server.people[other]}
    )
    assert response.status_code == 201, response.text
    conversation_id: int = response.json()["id"]
    await client.close()
    return conversation_id


def person_channels(server: Server) -> set[str]:
    return {c for c in server.core.hub.received if c.startswith("person:")}


async def test_chat_and_presence_cross_nodes(nodes: tuple[Server, Server]) -> None:
    a, b = nodes
    aino, bertil = await a.client("aino"), await b.client("bertil")
    conversation_id = await direct(a, "aino", "bertil")
    on_a = await aino.socket()
    on_b = await bertil.socket(watch=[a.people["aino"]])
    await settle(a, b)

    await on_a.send({"type": "send", "id": "x1", "conversation_id": conversation_id, "body": "Hei"})
    await on_a.expect("ack", id="x1")
    await settle(a, b)
    frame = await on_b.expect("message")
    assert frame["message"]["body"] == "Hei"
    assert frame["message"]["sender_id"] == a.people["aino"]

    await on_a.send({"type": "set_presence", "status": "dnd"})
    await settle(a, b)
    await on_b.expect("presence", person_id=a.people["aino"], status="dnd")

    # Each node received deliveries only on the channels of the people it holds: B none of
    # Aino's (nor anyone else's), A none of Bertil's, though Bertil's tab on B got his.
    assert person_channels(a) == {person_channel(a.people["aino"])}
    assert person_channels(b) == {person_channel(b.people["bertil"])}
    assert a.core.hub.received[SHARED] and b.core.hub.received[SHARED]
    async with b.http_client() as probe:
        ready = await probe.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["bus"] == {"status": "up"}
    await aino.close()
    await bertil.close()


async def test_heartbeats_stay_on_their_node_and_what_crosses_does_not_grow_with_tabs(
    nodes: tuple[Server, Server],
) -> None:
    """Aino's tabs on A send their heartbeats to A; B, which shows her, hears only what
    changes and A's own heartbeat. Over two minutes B receives as many messages on the
    shared channel with one tab of hers on A as with eight, and shows her online all along."""
    a, b = nodes
    aino = await a.client("aino")
    bertil = await b.client("bertil")
    watcher = await bertil.socket(watch=[a.people["aino"]])

    async def two_minutes(tabs: int) -> int:
        sockets = [await aino.socket() for _ in range(tabs)]
        await settle(a, b)
        before = b.core.hub.received[SHARED]
        shown = []
        for _ in range(12):
            await advance(10, a, b)
            shown.append(b.core.presence.shown(a.people["aino"]).status)
        received = b.core.hub.received[SHARED] - before
        assert shown == ["available"] * 12
        for sock in sockets:
            await sock.close()
        await settle(a, b)
        return received

    one, eight = await two_minutes(1), await two_minutes(8)
    # A's heartbeat and B's own, once an interval each; nothing per tab.
    assert one == eight == 24, (one, eight)
    assert watcher.open
    await aino.close()
    await bertil.close()


def presence_received(server: Server) -> dict[str, int]:
    return {c: n for c, n in server.core.hub.received.items() if c.startswith("presence:")}


async def test_a_node_hears_a_persons_presence_only_while_it_follows_them(
    nodes: tuple[Server, Server],
) -> None:
    """Presence by interest. Aino's tabs on A open, go idle and close; B, where Bertil is
    connected but does not show her, receives none of it, on any channel. Once Bertil
    watches her, B follows her: the answer to his watch has her view whole (B asked the
    nodes for her clients before it answered) and her changes come to B; once nobody on B
    has shown her for FOLLOW_LEASE, B lets her channel go and forgets what A said of her
    (until then a reload or another watch finds her followed still: no roll again)."""
    a, b = nodes
    aino_id = a.people["aino"]
    aino, bertil = await a.client("aino"), await b.client("bertil")
    watcher = await bertil.socket()
    await settle(a, b)
    tab = await aino.socket()
    await tab.send({"type": "heartbeat", "active": False})
    await tab.expect("heartbeat_ack")
    brief = await aino.socket()
    await brief.close()
    await advance(a.core.settings.offline_grace_seconds + 1, a, b)
    assert presence_received(b) == {}
    assert aino_id not in b.core.presence.tracker.people()

    await watcher.send({"type": "watch", "people": [aino_id]})
    views = await watcher.expect("presence_views")
    assert [(v["person_id"], v["status"]) for v in views["presence"]] == [(aino_id, "away")]
    await tab.send({"type": "heartbeat", "active": True})
    await settle(a, b)
    await watcher.expect("presence", person_id=aino_id, status="available")
    heard = presence_received(b)
    assert heard == {f"presence:{aino_id}": 1}, heard

    await watcher.send({"type": "watch", "people": []})
    await watcher.expect("presence_views")
    await advance(FOLLOW_LEASE.total_seconds() - 10, a, b)
    assert aino_id in b.core.presence.tracker.people()  # still followed
    heard = presence_received(b)
    await advance(10, a, b)
    assert aino_id not in b.core.presence.tracker.people()
    await tab.send({"type": "heartbeat", "active": False})
    await tab.expect("heartbeat_ack")
    await aino.socket()
    await settle(a, b)
    assert presence_received(b) == heard
    await watcher.no_frame("presence", person_id=aino_id)
    await aino.close()
    await bertil.close()


async def test_someone_looked_up_is_followed_for_a_while_then_let_go(
    nodes: tuple[Server, Server],
) -> None:
    """Bertil looks Aino up in the directory on B (no socket of his shows her): B answers
    with her presence whole, and follows her for FOLLOW_LEASE after the last look; then it
    lets her channel go."""
    a, b = nodes
    aino_id = a.people["aino"]
    aino, bertil = await a.client("aino"), await b.client("bertil")
    first = await aino.socket()
    await settle(a, b)
    card = await bertil.api("GET", f"/api/people/{aino_id}")
    assert card.json()["presence"]["status"] == "available", card.text
    found = await bertil.api("GET", "/api/people", params={"q": "Aino"})
    assert [p["presence"]["status"] for p in found.json()["people"]] == ["available"]
    await first.close()
    await advance(a.core.settings.offline_grace_seconds + 1, a, b)
    assert b.core.presence.shown(aino_id).status == "offline"  # followed: heard live
    heard = presence_received(b)
    assert heard == {f"presence:{aino_id}": 1}, heard

    await advance(FOLLOW_LEASE.total_seconds(), a, b)
    await aino.socket()
    await settle(a, b)
    assert presence_received(b) == heard
    assert b.core.presence.shown(aino_id).status == "offline"  # not followed: not told
    card = await bertil.api("GET", f"/api/people/{aino_id}")
    assert card.json()["presence"]["status"] == "available", card.text
    await aino.close()
    await bertil.close()


async def test_a_node_that_starts_beside_a_live_one_hears_its_clients_at_once(
    server_factory: Any, redis_url: str
) -> None:
    """Aino is connected on A when B starts: B follows nobody yet, and asks the nodes for
    her clients when someone on B shows her (or looks her up), before it answers, so it
    shows her online without waiting for anything of hers."""
    async with server_factory(bus_url=redis_url) as a:
        aino = await a.client("aino")
        on_a = await aino.socket()
        await settle(a)
        same = {"database_url": a.core.settings.database_url, "clock": a.clock}
        async with server_factory(bus_url=redis_url, **same) as b:
            await settle(a, b)
            bertil = await b.client("bertil")
            card = await bertil.api("GET", f"/api/people/{a.people['aino']}")
            assert card.json()["presence"]["status"] == "available", card.text
            on_b = await bertil.socket(watch=[a.people["aino"]])
            shown = {v["person_id"]: v["status"] for v in on_b.welcome["presence"]}
            assert shown[a.people["aino"]] == "available"
            # She closes her tab on A: B shows her offline after the grace period.
            await on_a.close()
            await advance(a.core.settings.offline_grace_seconds, a, b)
            await on_b.expect("presence", person_id=a.people["aino"], status="offline")
            await bertil.close()
        await aino.close()


async def test_a_delivery_to_two_people_on_one_node_is_one_frame_text(
    nodes: tuple[Server, Server],
) -> None:
    """Aino on A writes to a group whose two other members are on B: B hands both the same
    string, encoded once on A."""
    a, b = nodes
    aino = await a.client("aino")
    response = await aino.api(
        "POST",
        "/api/conversations",
        json={"members": [a.people["bertil"], a.people["cecilia"]], "title": "Ryhmä"},
    )
    assert response.status_code == 201, response.text
    conversation_id = response.json()["id"]
    on_a = await aino.socket()
    bertil, cecilia = await b.client("bertil"), await b.client("cecilia")
    socks = [await bertil.socket(), await cecilia.socket()]
    pushed: list[str] = []
    members = [b.core.hub.connections_of(b.people[name]) for name in ("bertil", "cecilia")]
    for conn in [c for conns in members for c in conns]:
        push = conn.push

        def spy(text: str, push: Any = push) -> None:
            if '"type":"message"' in text:
                pushed.append(text)
            push(text)

        conn.push = spy  # type: ignore[method-assign]
    await settle(a, b)
    await on_a.send(
        {"type": "send", "id": "g1", "conversation_id": conversation_id, "body": "Kaikille"}
    )
    await on_a.expect("ack", id="g1")
    await settle(a, b)
    for sock in socks:
        assert (await sock.expect("message"))["message"]["body"] == "Kaikille"
    assert len(pushed) == 2 and pushed[0] is pushed[1]
    for client in (aino, bertil, cecilia):
        await client.close()


async def test_a_dropped_subscriber_reconnects_and_delivery_resumes(
    nodes: tuple[Server, Server], redis_server: str
) -> None:
    a, b = nodes
    bus = b.core.hub.bus
    assert isinstance(bus, RedisBus)
    aino, bertil = await a.client("aino"), await b.client("bertil")
    conversation_id = await direct(a, "aino", "bertil")
    on_a, on_b = await aino.socket(), await bertil.socket(watch=[a.people["aino"]])
    await settle(a, b)
    assert bus.connections == 1

    # Redis drops B's subscriber (only it: other tests share this Redis).
    await kill(redis_server, bus, "subscribe")

    # What came meanwhile is lost to B's bus: once B holds its channels again it tells
    # Bertil's socket to resume (no timer in the test: the close is what it waits for).
    assert await on_b.closed() == CloseCode.RESYNC
    assert bus.connections == 2
    on_b = await bertil.socket(watch=[a.people["aino"]])
    await settle(a, b)
    await on_a.send(
        {"type": "send", "id": "k1", "conversation_id": conversation_id, "body": "Taas"}
    )
    await on_a.expect("ack", id="k1")
    await settle(a, b)
    assert (await on_b.expect("message"))["message"]["body"] == "Taas"
    await on_a.send({"type": "set_presence", "status": "away"})
    await settle(a, b)
    await on_b.expect("presence", person_id=a.people["aino"], status="away")
    await aino.close()
    await bertil.close()


# ---------------------------------------------------------------- lost messages


async def test_a_node_that_missed_messages_has_its_clients_resume_from_the_store(
    nodes: tuple[Server, Server], redis_server: str
) -> None:
    """B's subscription is away while Aino (on A) writes to Bertil (on B) and goes into
    do-not-disturb: B learns none of it from the bus. Once B holds its channels again it
    reloads presence from the store and closes Bertil's socket with RESYNC; Bertil's
    resume brings the message, once, and Aino's status."""
    a, b = nodes
    bus = b.core.hub.bus
    assert isinstance(bus, RedisBus)
    aino, bertil = await a.client("aino"), await b.client("bertil")
    conversation_id = await direct(a, "aino", "bertil")
    on_a = await aino.socket()
    on_b = await bertil.socket(watch=[a.people["aino"], a.people["cecilia"]])
    await settle(a, b)
    # B cannot subscribe again while the test holds its subscriber's lock: what A publishes
    # after the kill is lost to B, with no timing in the test.
    await bus._sub_lock.acquire()
    try:
        await kill(redis_server, bus, "subscribe")
        await on_a.send(
            {"type": "send", "id": "m1", "conversation_id": conversation_id, "body": "Kuuletko"}
        )
        await on_a.expect("ack", id="m1")
        await on_a.send({"type": "set_presence", "status": "dnd"})
        await on_a.expect("presence", person_id=a.people["aino"], status="dnd")
        # Cecilia opens a tab on A: B misses that she came online too.
        cecilia = await a.client("cecilia")
        await cecilia.socket()
        await settle(a)
        assert b.core.presence.shown(a.people["aino"]).status != "dnd"  # B missed it
        assert b.core.presence.shown(a.people["cecilia"]).status == "offline"
    finally:
        bus._sub_lock.release()
    assert await on_b.closed() == CloseCode.RESYNC
    assert not [f for f in on_b.pending if f["type"] == "message"]  # lost, as said
    assert b.core.hub.gaps == 1 and a.core.hub.gaps == 0
    assert b.core.presence.shown(a.people["aino"]).status == "dnd"
    # Bertil's tab resumes: B asks the nodes for the clients of those he shows, and A's
    # answer has Cecilia's tab.
    await settle(a, b)
    again = await bertil.socket(
        resume={str(conversation_id): 0}, watch=[a.people["aino"], a.people["cecilia"]]
    )
    assert [m["body"] for m in again.welcome["missed"]] == ["Kuuletko"]
    shown = {v["person_id"]: v["status"] for v in again.welcome["presence"]}
    assert shown[a.people["aino"]] == "dnd"
    assert shown[a.people["cecilia"]] == "available"
    await settle(a, b)
    await again.no_frame("message")
    await aino.close()
    await bertil.close()
    await cecilia.close()


async def test_messages_dropped_while_redis_was_unreachable_reach_their_readers(
    nodes: tuple[Server, Server], redis_server: str
) -> None:
    """A's publisher loses its connection as Aino writes: the delivery is dropped. When A
    reaches Redis again it tells every node, and each has its clients resume: Bertil (on B)
    gets the message from the store, and nothing twice."""
    a, b = nodes
    bus = a.core.hub.bus
    assert isinstance(bus, RedisBus)
    aino, bertil = await a.client("aino"), await b.client("bertil")
    conversation_id = await direct(a, "aino", "bertil")
    on_a, on_b = await aino.socket(), await bertil.socket()
    await settle(a, b)
    await kill(redis_server, bus, "publish")
    await on_a.send(
        {"type": "send", "id": "d1", "conversation_id": conversation_id, "body": "Pudonnut"}
    )
    # Read straight from the socket (a settle's heartbeats would race the close below).
    assert (await on_a.read_until("ack"))["id"] == "d1"
    # Both nodes close their connections to resume, A's own included.
    assert await on_b.closed() == CloseCode.RESYNC
    assert await on_a.closed() == CloseCode.RESYNC
    assert a.core.hub.gaps == 1 and b.core.hub.gaps == 1
    received = [f for f in on_b.pending if f["type"] == "message"]
    again = await bertil.socket(resume={str(conversation_id): len(received)})
    bodies = [m["message"]["body"] for m in received] + [m["body"] for m in again.welcome["missed"]]
    assert bodies == ["Pudonnut"]
    await settle(a, b)
    await again.no_frame("message")
    await aino.close()
    await bertil.close()
