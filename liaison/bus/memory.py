"""In-process bus: a bounded queue drained by one task, so order is kept."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from liaison.bus.base import Handler

log = logging.getLogger(__name__)


class MemoryBus:
    def __init__(self, queue_size: int = 10000) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None

    async def start(self, handler: Handler) -> None:
        async def drain() -> None:
            while True:
                message = await self._queue.get()
                try:
                    await handler(message)
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

    async def idle(self) -> None:
        await self._queue.join()

    async def ready(self) -> bool:
        # In this process: nothing to reach, ready whenever it is delivering.
        return self._task is not None and not self._task.done()

    async def publish(self, message: str) -> None:
        # Waits when the queue is full: back-pressure on publishers instead of unbounded memory.
        await self._queue.put(message)
