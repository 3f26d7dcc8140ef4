"""In-process bus: channels held in a set, one bounded queue drained by one task, so
order is kept across channels as on Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from liaison.bus.base import GapHandler, Handler

log = logging.getLogger(__name__)


class MemoryBus:
    def __init__(self, queue_size: int = 10000) -> None:
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=queue_size)
        self._channels: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self, handler: Handler, on_gap: GapHandler | None = None) -> None:
        # In one process nothing is lost (publishers wait on a full queue): no gaps.
        async def drain() -> None:
            while True:
                channel, message = await self._queue.get()
                try:
                    # Let go of since it was published: nothing more of it is handed over.
                    if channel in self._channels:
                        await handler(channel, message)
                except Exception:
                    log.exception("bus handler failed")
                finally:
                    self._queue.task_done()

        self._task = asyncio.create_task(drain(), name="memory-bus")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def subscribe(self, channels: Iterable[str]) -> None:
        self._channels.update(channels)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        self._channels.difference_update(channels)

    async def idle(self) -> None:
        await self._queue.join()

    async def ready(self) -> bool:
        # In this process: nothing to reach, ready whenever it is delivering.
        return self._task is not None and not self._task.done()

    async def publish(self, channel: str, message: str) -> None:
        # As Redis does: whether anyone holds the channel is decided when it is published.
        if channel not in self._channels:
            return
        # Waits when the queue is full: back-pressure on publishers instead of unbounded memory.
        await self._queue.put((channel, message))
