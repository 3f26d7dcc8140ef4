"""Presence across two nodes on the real Redis, one clock: the "ghost online" and "stuck
offline" cases that clustered chat servers keep meeting (Mattermost MM-57152 and MM-7088,
Openfire's and CometD's users of a dropped node shown online, Primus-cluster's clients of
a crashed server left in Redis), each as a test. docs/presence.md has the design."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from liaison.bus.redis import RedisBus
from liaison.protocol.reference import CloseCode
from tests.conftest import SAFETY_SECONDS, Server, Socket, advance, settle
from tests.test_rings_nodes import CuttableProxy


async def shown(server: Server, name: str) -> str:
    """The person's status as the node answers anyone who looks them up (a node follows
    only the people it is asked about: docs/presence.md)."""
    person_id = server.people[name]
    await server.core.presence.look([person_id])
    return str(server.core.presence.shown(person_id).status)


async def test_closing_a_tab_on_one_node_leaves_the_person_online_through_the_other(
    nodes: tuple[Server, Server],
) -> None:
    """MM-57152: a status set offline without asking the other nodes for connections."""
    a, b = nodes
    aino_a, aino_b = await a.client("aino"), await b.client("aino")
    on_a, on_b = await aino_a.socket(), await aino_b.socket()
    await settle(a, b)
    await on_a.close()
    await advance(a.core.settings.offline_grace_seconds + 1, a, b)
    assert await shown(a, "aino") == await shown(b, "aino") == "available"
    # And the other way round: her last tab closes, and both nodes show her offline.
    await on_b.close()
    await advance(a.core.settings.offline_grace_seconds + 1, a, b)
    assert await shown(a, "aino") == await shown(b, "aino") == "offline"
    await aino_a.close()
    await aino_b.close()


async def test_a_reload_that_lands_on_the_other_node_never_shows_offline(
    nodes: tuple[Server, Server],
) -> None:
    """The page reloads and the proxy sends the new socket to the other node: within the
    grace period the person stays online, and nobody watching is told otherwise."""
    a, b = nodes
    aino_a, aino_b = await a.client("aino"), await b.client("aino")
    bertil = await b.client("bertil")
    watcher = await bertil.socket(watch=[a.people["aino"]])
    old_tab = await aino_a.socket()
    await settle(a, b)
    await watcher.expect("presence", person_id=a.people["aino"], status="available")
    await old_tab.close()
    await aino_b.socket()
    await advance(a.core.settings.heartbeat_timeout_seconds * 2, a, b)
    await watcher.no_frame("presence", person_id=a.people["aino"])
    assert await shown(a, "aino") == await shown(b, "aino") == "available"
    for client in (aino_a, aino_b, bertil):
        await client.close()


async def test_an_active_tab_closing_on_one_node_leaves_the_person_away_when_the_rest_idle(
    nodes: tuple[Server, Server],
) -> None:
    """MM-7088: idle on one device, a second device connects briefly and disconnects; the
    person was left online. Here every node shows her away again after the grace period."""
    a, b = nodes
    aino_a, aino_b = await a.client("aino"), await b.client("aino")
    await aino_a.socket(active=False)
    await settle(a, b)
    assert await shown(a, "aino") == await shown(b, "aino") == "away"
    brief = await aino_b.socket(active=True)
    await settle(a, b)
    assert await shown(a, "aino") == await shown(b, "aino") == "available"
    await brief.close()
    await advance(a.core.settings.offline_grace_seconds + 1, a, b)
    assert await shown(a, "aino") == await shown(b, "aino") == "away"
    await aino_a.close()
    await aino_b.close()


def _through(url: str, port: int) -> str:
    """The bus URL with the host's port replaced (the proxy's)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


@contextlib.asynccontextmanager
async def cut_off_node(
    server_factory: Any, redis_url: str
) -> AsyncIterator[tuple[Server, Server, CuttableProxy]]:
    """Node A reaches Redis through a proxy the test cuts; B directly. One clock."""
    proxy = CuttableProxy(urlsplit(redis_url).port or 6379)
    port = await proxy.start()
    try:
        async with server_factory(bus_url=_through(redis_url, port)) as a:
            same = {"database_url": a.core.settings.database_url, "clock": a.clock}
            async with server_factory(bus_url=redis_url, **same) as b:
                yield a, b, proxy
    finally:
        await proxy.stop()


async def heartbeat_alone(sockets: list[Socket], b: Server, seconds: float) -> None:
    """Moves the clock while A cannot reach Redis: A's tabs keep sending their heartbeats
    to A (A answers them itself), B settles; A is not settled (its bus is unreachable)."""
    step = b.core.settings.heartbeat_interval_seconds
    while seconds > 0:
        for sock in sockets:
            await sock.sync()
        b.clock.advance(min(step, seconds))
        seconds -= step
        await b.settle()


async def test_a_node_cut_off_from_redis_is_given_up_and_its_people_come_back_with_it(
    server_factory: Any, redis_url: str
) -> None:
    """Openfire, CometD, Primus-cluster: users of a dropped node stayed online on the others.
    A loses Redis (its process and Aino's tab live on): B shows Aino offline once A has been
    silent for the heartbeat timeout, and online again once A is back and she resumes
    (stuck offline is the other half of the bug)."""
    async with cut_off_node(server_factory, redis_url) as (a, b, proxy):
        aino = await a.client("aino")
        bertil = await b.client("bertil")
        tab = await aino.socket()
        watcher = await bertil.socket(watch=[a.people["aino"]])
        await settle(a, b)
        assert await shown(b, "aino") == "available"

        proxy.sever()
        timeout = b.core.settings.heartbeat_timeout_seconds
        await heartbeat_alone([tab], b, timeout - b.core.settings.heartbeat_interval_seconds)
        assert await shown(b, "aino") == "available"  # not yet: A might only be slow
        await heartbeat_alone([tab], b, b.core.settings.heartbeat_interval_seconds + 1)
        assert await shown(b, "aino") == "offline"
        await watcher.expect("presence", person_id=a.people["aino"], status="offline")
        assert await shown(a, "aino") == "available"  # A itself still hears her

        proxy.cut = False
        # A reaches Redis again and tells every node that messages were lost: each has its
        # tabs resume from the store. (A catches up once or twice: for its subscriber's
        # gap, and for its own notice if the subscriber was back to hear it.)
        assert await tab.closed() == CloseCode.RESYNC
        assert await watcher.closed() == CloseCode.RESYNC
        bus = a.core.hub.bus
        assert isinstance(bus, RedisBus)
        await asyncio.wait_for(bus.subscribed.wait(), SAFETY_SECONDS)
        await asyncio.wait_for(bus.publishing.wait(), SAFETY_SECONDS)
        await settle(a, b)
        await asyncio.gather(*bus._gap_tasks)
        await aino.socket()
        watcher = await bertil.socket(watch=[a.people["aino"]])
        await settle(a, b)
        assert await shown(b, "aino") == "available"
        views = {v["person_id"]: v["status"] for v in watcher.welcome["presence"]}
        assert views[a.people["aino"]] == "available"
        await aino.close()
        await bertil.close()
