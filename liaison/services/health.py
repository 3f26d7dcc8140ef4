"""What `/ready` reports: each dependency of this node, checked when asked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import text

from liaison.bus.base import Bus
from liaison.protocol.answers import DependencyCheck, DependencyChecks, Readiness
from liaison.store.db import Sessions

# A probe gets its answer within this long: a database that takes longer is reported down
# (it would fail requests too), instead of the probe timing out with no answer at all.
CHECK_TIMEOUT_SECONDS = 5.0


async def _database(db: Sessions) -> None:
    # A real round trip through the pool, as a request would make one.
    async with db() as session:
        await session.execute(text("SELECT 1"))


async def _bus(bus: Bus) -> None:
    if not await bus.ready():
        raise ConnectionError("the bus is not delivering")


async def _check(probe: Callable[[], Awaitable[None]]) -> DependencyCheck:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except Exception as e:
        # Whatever failed, the dependency is not usable: down, never a 500 to the probe.
        # The kind of failure only: a driver's message may name hosts or users.
        return DependencyCheck(status="down", error=type(e).__name__)
    return DependencyCheck(status="up")


async def readiness(db: Sessions, bus: Bus) -> Readiness:
    """Every dependency, checked side by side: ready when each is up."""
    database, bus_check = await asyncio.gather(
        _check(lambda: _database(db)), _check(lambda: _bus(bus))
    )
    ready = database.status == "up" and bus_check.status == "up"
    return Readiness(
        status="ready" if ready else "unavailable",
        checks=DependencyChecks(database=database, bus=bus_check),
    )
