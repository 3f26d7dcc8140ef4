"""Time as a dependency: the server reads `Clock.now()`, tests pass a `ManualClock`.

Waiting goes through the clock too (`wait_until`), so one scheduler serves both: with the
system clock it sleeps until the deadline; with a manual clock it sleeps until the test
moves the clock, and never by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Protocol

# A real sleep is cut at this length and the deadline recomputed, so a wall-clock step
# (NTP, a suspended virtual machine) delays a timer by at most this much.
LONGEST_SLEEP_SECONDS = 60.0


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def wait_until(self, deadline: datetime | None, wake: asyncio.Event) -> None:
        """Returns when `deadline` has passed or `wake` is set (None: only on `wake`)."""


async def _wait(wake: asyncio.Event, seconds: float | None) -> None:
    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def wait_until(self, deadline: datetime | None, wake: asyncio.Event) -> None:
        seconds = LONGEST_SLEEP_SECONDS
        if deadline is not None:
            seconds = min(seconds, max(0.0, (deadline - self.now()).total_seconds()))
        await _wait(wake, seconds)


class ManualClock:
    """A clock that moves only when told to; starts at a fixed instant.

    Whoever waits on it is woken by `advance`/`set`, so timers fire when the test moves
    time, not when real time passes."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._waiters: set[asyncio.Event] = set()

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self.set(self._now + timedelta(seconds=seconds))

    def set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError("a clock does not go backwards")
        self._now = when
        for event in self._waiters:
            event.set()

    async def wait_until(self, deadline: datetime | None, wake: asyncio.Event) -> None:
        if deadline is not None and deadline <= self._now:
            return
        self._waiters.add(wake)
        try:
            await wake.wait()
        finally:
            self._waiters.discard(wake)
