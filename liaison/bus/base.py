"""The event bus: every node publishes to it and hears every message, its own included.

Messages are JSON text, so an in-process bus and a Redis one carry exactly the
same bytes and nothing can rely on living in one process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

Handler = Callable[[str], Awaitable[None]]


class Bus(Protocol):
    async def start(self, handler: Handler) -> None:
        """Begin delivering every published message to `handler`, in publish order."""

    async def stop(self) -> None: ...

    async def publish(self, message: str) -> None: ...

    async def idle(self) -> None:
        """Returns once every message published so far has been handled (tests settle)."""

    async def ready(self) -> bool:
        """Whether messages published now are delivered (`/ready` reports it)."""


def bus_from_url(url: str, queue_size: int = 10000) -> Bus:
    """`memory://` for one process; other schemes arrive with their backends."""
    if url.startswith("memory://"):
        from liaison.bus.memory import MemoryBus

        return MemoryBus(queue_size)
    raise ValueError(f"unsupported LIAISON_BUS_URL {url!r}: use memory://")
