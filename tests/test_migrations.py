"""Migrations: nodes that start together on one new database migrate one at a time."""

from __future__ import annotations

import asyncio

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from liaison.store.db import alembic_config, create_engine, migrate
from tests.conftest import TEST_DATABASE_URL, Databases


async def test_concurrent_migrations_of_a_new_database_leave_one_schema_at_head(
    databases: Databases, caplog: pytest.LogCaptureFixture
) -> None:
    url = await databases.empty()
    engines = [create_engine(url) for _ in range(3)]
    try:
        # Side by side, each on its own connection, as nodes starting at once: without
        # the migration lock, the later ones fail creating what the first created.
        with caplog.at_level("INFO", logger="liaison.store.db"):
            await asyncio.gather(*(migrate(engine) for engine in engines))
        if TEST_DATABASE_URL:
            # They met: the later ones waited for the lock (SQLite waits in the driver).
            assert "waiting for it to finish" in caplog.text
        async with engines[0].connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            people = await conn.scalar(text("SELECT count(*) FROM people"))
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert [v for (v,) in versions] == [head] and people == 0
        # Again at head: nothing to do, and nothing fails.
        await migrate(engines[1])
    finally:
        for engine in engines:
            await engine.dispose()
        await databases.drop(url)
