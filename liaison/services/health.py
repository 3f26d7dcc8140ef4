"""What `/ready` reports: each dependency of this node, checked when asked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from liaison.bus.base import Bus
from liaison.store.db import Sessions

# A probe gets its answer within this long: a database that takes longer is reported down
# (it would fail requests too), instead of the probe timing out with no answer at all.
CHECK_TIMEOUT_SECONDS = 5.0
UP, DOWN = "up", "down"


async def _database(db: Sessions) -> None:
    # A real round trip through the pool, as a request would make one.
    async with db() as session:
        await session.execute(text("SELECT 1"))


async def _bus(bus: Bus) -> None:
    if not await bus.ready():
        raise ConnectionError("the bus is not delivering")


async def _check(probe: Callable[[], Awaitable[None]]) -> dict[str, str]:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except Exception as e:
        # Whatever failed, the dependency is not usable: down, never a 500 to the probe.
        # The kind of failure only: a driver's message may name hosts or users.
        return {"status": DOWN, "error": type(e).__name__}
    return {"status": UP}


async def readiness(db: Sessions, bus: Bus) -> tuple[bool, dict[str, Any]]:
    """(ready, the report): ready when every dependency is up; checked side by side."""
    database, bus_check = await asyncio.gather(
        _check(lambda: _database(db)), _check(lambda: _bus(bus))
    )
    checks = {"database": database, "bus": bus_check}
    ready = all(c["status"] == UP for c in checks.values())
    return ready, {"status": "ready" if ready else "unavailable", "checks": checks}
