"""`/health` says the process answers; `/ready` checks each dependency and says which is
down (docs/architecture.md "Health and readiness")."""

from __future__ import annotations

import pytest

from liaison.store.db import create_engine, session_factory
from tests.conftest import Server

READY = {"status": "ready", "checks": {"database": {"status": "up"}, "bus": {"status": "up"}}}


def unreachable(url: str) -> str:
    """A database of the same kind that cannot be reached: nothing listens on port 9 (the
    discard port), and SQLite cannot open a file in a directory that does not exist."""
    if url.startswith("postgresql"):
        return "postgresql+asyncpg://liaison@127.0.0.1:9/liaison"
    return "sqlite+aiosqlite:////nonexistent-liaison-directory/liaison.db"


async def test_health_and_ready_answer_anyone_without_a_login(app_server: Server) -> None:
    async with app_server.http_client() as anonymous:
        health, ready = await anonymous.get("/health"), await anonymous.get("/ready")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, READY)
    assert health.headers["cache-control"] == ready.headers["cache-control"] == "no-store"


async def test_ready_names_the_dependency_that_is_down(
    app_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = app_server.core
    dead = create_engine(unreachable(core.settings.database_url))
    try:
        with monkeypatch.context() as patch:
            patch.setattr(core, "db", session_factory(dead))
            async with app_server.http_client() as probe:
                ready, health = await probe.get("/ready"), await probe.get("/health")
        assert ready.status_code == 503
        report = ready.json()
        assert report["status"] == "unavailable" and report["checks"]["bus"] == {"status": "up"}
        assert report["checks"]["database"]["status"] == "down"
        assert report["checks"]["database"]["error"]  # its kind; no message, no address
        assert "127.0.0.1" not in ready.text and "nonexistent" not in ready.text
        # The process itself is alive: no restart would help.
        assert health.status_code == 200
    finally:
        await dead.dispose()
    async with app_server.http_client() as probe:
        assert (await probe.get("/ready")).json() == READY  # the database answers again

    await core.hub.bus.stop()  # the bus no longer delivers
    async with app_server.http_client() as probe:
        ready = await probe.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "database": {"status": "up"},
        "bus": {"status": "down", "error": "ConnectionError"},
    }
