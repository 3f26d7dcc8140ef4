"""One place where time makes things happen.

Services do not run loops that poll the clock. Each registers a *timer source*: a function
that tells its next deadline, taken from its pure domain (`RingRouter.next_deadline()`,
`PresenceTracker.next_deadline()`, ...), and a coroutine that does what is due at a given
time. One task sleeps until the earliest deadline of all sources, fires what is due, and
sleeps again; a source whose deadline moved earlier calls `wake()`. Short one-off timers
(a socket's hello deadline) use `call_at`.

With a `ManualClock` nothing fires until the test moves the clock, and `settle()` returns
once everything due and everything it set off is done, so a test can assert that nothing
(more) happened without waiting for real time to pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from liaison.clock import Clock

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TimerSource:
    name: str
    next_deadline: Callable[[], datetime | None]
    fire: Callable[[datetime], Awaitable[None]]


@dataclass(order=True, slots=True)
class TimerHandle:
    when: datetime
    order: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._sources: list[TimerSource] = []
        self._timers: list[TimerHandle] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._firing = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._task: asyncio.Task[None] | None = None
        # Counts everything the scheduler did, so settle() can tell when nothing more happens.
        self.activity = 0

    def add(
        self,
        name: str,
        next_deadline: Callable[[], datetime | None],
        fire: Callable[[datetime], Awaitable[None]],
    ) -> None:
        self._sources.append(TimerSource(name, next_deadline, fire))
        self.wake()

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        """A one-off timer; `cancel()` the handle when it is no longer needed."""
        handle = TimerHandle(when, next(self._order), callback)
        heapq.heappush(self._timers, handle)
        if self._timers[0] is handle:
            self.wake()
        return handle

    def wake(self) -> None:
        """A deadline may have moved earlier: look again."""
        self._wake.set()

    def spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        """Background work set off by an event; settle() waits for it."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        self.activity += 1
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    # ------------------------------------------------------------ running

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for background in list(self._tasks):
            background.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def next_deadline(self) -> datetime | None:
        deadlines = [d for s in self._sources if (d := s.next_deadline()) is not None]
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        if self._timers:
            deadlines.append(self._timers[0].when)
        return min(deadlines, default=None)

    async def run_due(self) -> bool:
        """Fires every source and timer that is due now; True when anything was."""
        fired = False
        async with self._firing:
            now = self.clock.now()
            while self._timers and (self._timers[0].cancelled or self._timers[0].when <= now):
                handle = heapq.heappop(self._timers)
                if not handle.cancelled:
                    fired = True
                    try:
                        handle.callback()
                    except Exception:
                        log.exception("timer failed")
            for source in self._sources:
                deadline = source.next_deadline()
                if deadline is not None and deadline <= now:
                    fired = True
                    try:
                        await source.fire(now)
                    except Exception:
                        log.exception("%s timers failed", source.name)
        if fired:
            self.activity += 1
        return fired

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            if await self.run_due():
                continue
            await self.clock.wait_until(self.next_deadline(), self._wake)

    async def settle(self, idle: Callable[[], Awaitable[None]]) -> None:
        """Until nothing is due and nothing set off is still running (for tests).

        `idle` waits for the other queues that feed the services (the bus) to empty."""
        while True:
            before = self.activity
            await idle()
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self.run_due()
            # A few loop turns let callbacks scheduled by what just ran take their step.
            for _ in range(3):
                await asyncio.sleep(0)
            if self.activity == before and not self._tasks:
                return
