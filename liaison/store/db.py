"""Engine creation and schema migrations (Alembic, run at start, one process at a time)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event, text
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.pool import QueuePool

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)


class ConnectionLost(Exception):
    """The connection to the database broke during a statement (the server or the
    network to it went away); raised in place of the driver's error of any kind."""


# What a database that is down, unreachable or overloaded raises: a request that meets
# one of these gets "unavailable" (503), with one log line and no traceback.
UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    OSError,
    TimeoutError,
    ConnectionLost,
)
# Seconds a statement or a connection attempt may take on PostgreSQL before it fails.
STATEMENT_TIMEOUT = 10
# How long a SQLite writer waits for the lock held by another.
SQLITE_BUSY_MS = 30_000
SQLITE_WAL_RETRY_SECONDS = 0.01
CONNECT_TIMEOUT = 5


def create_engine(url: str, schema: str = "") -> AsyncEngine:
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        # A database that does not answer fails requests within seconds, not after the
        # whole outage; the pool recovers by itself when it answers again.
        connect_args["timeout"] = CONNECT_TIMEOUT
        connect_args["command_timeout"] = STATEMENT_TIMEOUT
    if url.startswith("postgresql") and schema:
        connect_args["server_settings"] = {"search_path": schema}
    options: dict[str, Any] = {}
    if url.startswith("sqlite"):
        connect_args["timeout"] = SQLITE_BUSY_MS / 1000
    else:
        # Bounded: requests wait for a connection (up to pool_timeout) rather than open
        # more than the database is sized for. Hot writes go through one writer per node.
        options = {"pool_size": 10, "max_overflow": 10, "pool_timeout": STATEMENT_TIMEOUT}
    # No ping per checkout (a round trip per transaction): a connection found dead fails
    # that one transaction, and the pool replaces it.
    engine = create_async_engine(url, connect_args=connect_args, **options)
    if url.startswith("sqlite"):
        _sqlite_rules(engine.sync_engine)
    event.listen(engine.sync_engine, "handle_error", _connection_lost)
    return engine


def _connection_lost(context: ExceptionContext) -> Exception | None:
    # asyncpg reports a connection cut in the middle of a statement as a plain DBAPIError
    # ("connection was closed in the middle of operation"), which would otherwise reach
    # the client as an internal error; SQLAlchemy knows it for a disconnect.
    # A cancelled task (a node stopping) also invalidates its connection: that stays a
    # cancellation.
    if not isinstance(context.original_exception, Exception):
        return None
    if context.is_disconnect and not isinstance(context.sqlalchemy_exception, UNAVAILABLE):
        return ConnectionLost(str(context.original_exception))
    return None


def _sqlite_rules(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching a new database to WAL takes its lock, and
        # without the timeout a connection opened while another holds it fails at once
        # ("database is locked") instead of waiting.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        # WAL lets readers run during a write; foreign keys are off by default in SQLite.
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # Transactions are begun by us (below), not by the driver.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Connection) -> None:
        # A transaction that will write takes SQLite's write lock at its start, so
        # writers queue (busy timeout) instead of one failing at once with "database is
        # locked" when its snapshot turns stale on its first write. Reading sessions
        # run each SELECT on its own, as the driver always did (no extra round trip).
        options = conn.get_execution_options()
        if options.get(WRITES):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif options.get(SNAPSHOT):
            # Deferred: in WAL mode the first read fixes the snapshot, and writers go on.
            conn.exec_driver_sql("BEGIN")


def _use_wal(cursor: Any) -> None:
    """Switches the database to WAL (kept in the file: a no-op once done). SQLite does not
    apply the busy timeout to this switch: while another connection holds the new
    database's lock (a node migrating it) the switch fails at once, so it is tried again
    until that connection has switched it or the busy timeout has passed."""
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
        try:
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError:
            pass
        # A driver thread's wait between two tries, not the event loop's.
        time.sleep(SQLITE_WAL_RETRY_SECONDS)


def sqlite_writer(url: str) -> Engine | None:
    """For SQLite, a synchronous engine of one connection for a writer thread (a batch is
    then one hand-off from the event loop, not one per statement); None otherwise."""
    if not url.startswith("sqlite"):
        return None
    engine = sa_create_engine(
        url.replace("+aiosqlite", "", 1), poolclass=QueuePool, pool_size=1, max_overflow=0
    )
    _sqlite_rules(engine)
    return engine.execution_options(**{WRITES: True})


# Execution option of connections that will write (see writing()).
WRITES = "liaison_writes"


# Execution option of connections that read several tables as of one moment (snapshot()).
SNAPSHOT = "liaison_snapshot"


def writing(engine: AsyncEngine) -> AsyncEngine:
    """The engine for transactions that write (SQLite: BEGIN IMMEDIATE)."""
    return engine.execution_options(**{WRITES: True})


def snapshot(engine: AsyncEngine) -> AsyncEngine:
    """The engine for read-only transactions that see one committed state throughout and
    take no lock that a writer waits on: PostgreSQL's REPEATABLE READ, READ ONLY; on
    SQLite a deferred transaction in WAL mode."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return engine.execution_options(**{SNAPSHOT: True})


class Sessions(async_sessionmaker[AsyncSession]):
    """`sessions()` for reading, `sessions.begin()` for a transaction that writes,
    `sessions.snapshot()` for reads that must agree with each other."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._writing = async_sessionmaker(writing(engine), expire_on_commit=False)
        self._snapshot = async_sessionmaker(snapshot(engine), expire_on_commit=False)

    def begin(self) -> Any:
        return self._writing.begin()

    def snapshot(self) -> Any:
        return self._snapshot.begin()

    def writer(self) -> AsyncSession:
        """A session that will write and commits (or rolls back) itself."""
        return self._writing()


def session_factory(engine: AsyncEngine) -> Sessions:
    return Sessions(engine)


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


# The PostgreSQL advisory lock a migration holds ("LIAI"), one key for every Liaison
# database: nodes that start together migrate one after another, and those after the
# first find the schema at head. Polled, not waited on in one statement, because every
# statement ends after STATEMENT_TIMEOUT and a long migration may hold it longer.
MIGRATION_LOCK = 0x4C494149
MIGRATION_LOCK_POLL_SECONDS = 0.25


async def migrate(engine: AsyncEngine, schema: str = "") -> None:
    """Bring the schema to the newest revision, in one transaction that holds the
    migration lock (released when it ends); safe to run at every start, by any number
    of processes at once. On SQLite the transaction begins IMMEDIATE: the write lock
    serialises migrations as the advisory lock does on PostgreSQL."""
    async with writing(engine).begin() as conn:
        if engine.dialect.name == "postgresql":
            await _migration_lock(conn)
            if schema:
                await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(sync_conn), "head"))


async def _migration_lock(conn: AsyncConnection) -> None:
    statement = text(f"SELECT pg_try_advisory_xact_lock({MIGRATION_LOCK})")
    if await conn.scalar(statement):
        return
    # Said once: a start that seems to hang is waiting for another process's migration.
    log.info("another process is migrating the schema; waiting for it to finish")
    # Polled: the holder is another process, with no event here to wait on.
    while not await conn.scalar(statement):  # noqa: ASYNC110
        await asyncio.sleep(MIGRATION_LOCK_POLL_SECONDS)
