"""The event bus: named channels that nodes publish to and subscribe to.

A node receives a message only on the channels it holds (its own publications included),
in publish order across all of them. Messages are text, so an in-process bus and a Redis
one carry exactly the same bytes and nothing can rely on living in one process.

Backends are chosen by the URL's scheme (`bus_from_url`), as encode/broadcaster does:
`memory://` (one process) and `redis://` (any number of nodes). Channel names given
here are logical (`all`, `person:15`); a backend that is shared between deployments puts
its namespace in front of them on the wire and takes it off again on the way in.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

# Called with (channel, message) for each message on a channel this node holds.
Handler = Callable[[str, str], Awaitable[None]]
# Called when messages were lost: with True when this node's own publications were dropped
# (other nodes missed them), with False when this node missed what others published (its
# subscription was away). The bus is then delivering again.
GapHandler = Callable[[bool], Awaitable[None]]

DEFAULT_NAMESPACE = "liaison"
# A namespace is part of every channel name and of the connections' client names.
NAMESPACE = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Bus(Protocol):
    async def start(self, handler: Handler, on_gap: GapHandler | None = None) -> None:
        """Begin delivering every message on the held channels to `handler`, in publish
        order, one at a time; `on_gap` is told each time messages were lost, once the bus
        delivers again (a backend that cannot lose messages never calls it)."""

    async def stop(self) -> None:
        """Stops delivering and releases connections; stopping twice is harmless."""

    async def publish(self, channel: str, message: str) -> None:
        """Hands a message to the bus; never waits without bound (a backend that cannot
        reach its server drops it and says so in the log, once per outage)."""

    async def subscribe(self, channels: Iterable[str]) -> None:
        """Holds these channels too; returns once messages published from now on are
        received (or, if the backend's server does not answer in time, once it will be
        when it does). Whether one published before it arrives is left open."""

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        """No longer receives these channels: from this call on, nothing more of them is
        handed to the handler, even what was published before."""

    async def idle(self) -> None:
        """Returns once every message this node published so far, on the channels it
        holds, has been handled (tests settle with it)."""

    async def ready(self) -> bool:
        """Whether messages published now are delivered (`/ready` reports it)."""


SCHEMES = ("memory", "redis", "rediss")


def url_problem(url: str) -> str | None:
    """What is wrong with a bus URL (the setting's check and `bus_from_url` share it)."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not url.startswith(f"{parts.scheme}://"):
        return "must start with " + " or ".join(f"{s}://" for s in SCHEMES)
    namespace = dict(parse_qsl(parts.query)).get("namespace", DEFAULT_NAMESPACE)
    if not NAMESPACE.fullmatch(namespace):
        return "namespace must be 1 to 64 letters, digits, '.', '_' or '-'"
    return None


def bus_from_url(url: str, queue_size: int = 10000) -> Bus:
    """`memory://` for one process; `redis://host:port/db?namespace=NAME` (or `rediss://`)
    for several nodes sharing one Redis, NAME prefixing every channel (default `liaison`)."""
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(f"LIAISON_BUS_URL {problem}")
    parts = urlsplit(url)
    if parts.scheme == "memory":
        from liaison.bus.memory import MemoryBus

        return MemoryBus(queue_size)
    from liaison.bus.redis import RedisBus

    query = dict(parse_qsl(parts.query))
    namespace = query.pop("namespace", DEFAULT_NAMESPACE)
    rest = "&".join(f"{k}={v}" for k, v in query.items())
    return RedisBus(parts._replace(query=rest).geturl(), namespace, queue_size)
