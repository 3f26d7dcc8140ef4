"""Real servers on free loopback ports, clients that talk to them over real sockets, and
time as a clock the test moves.

- Every server runs on a copy of a template database built once per test run (migrated,
  with the small directory below and its accounts): a file copy on SQLite, `CREATE
  DATABASE ... TEMPLATE` on PostgreSQL (LIAISON_TEST_DATABASE_URL).
- Every server has a `ManualClock`. Nothing time-driven happens until the test moves it
  (`await server.advance(seconds)`); `await server.settle()` returns once the server has
  handled everything the test's sockets sent and everything that set off, and every frame
  that caused has reached the sockets. "Nothing arrives" is asserted after a settle, not
  by waiting.
- Passwords are hashed with argon2's lowest cost here; production parameters stay in
  `Settings` (tests/test_config.py holds them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import socket
import ssl
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
import websockets
from playwright.async_api import Browser, async_playwright
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from liaison.cli import websocket_options
from liaison.clock import ManualClock
from liaison.config import Settings
from liaison.services.core import Core
from liaison.services.directory_import import import_directory
from liaison.store.models import Person
from liaison.web.app import create_app

PASSWORD = "test-password-1"
TEST_SECRET = "test-pseudonym-secret-0123456789"
TEST_DATABASE_URL = os.environ.get("LIAISON_TEST_DATABASE_URL", "")
# Waiting this long for a frame the server has already settled means it never comes; the
# bound only keeps a broken test from hanging, it decides nothing.
SAFETY_SECONDS = 60.0
# Every HTTP client here talks plain HTTP to loopback, yet httpx loads the CA bundle for
# each new client unless given a context: one context, loaded once (37 ms of CPU a client).
LOOPBACK_TLS = ssl.create_default_context()
# Property and fuzz tests run a fixed budget of examples; LIAISON_FUZZ_SCALE=20 runs twenty
# times as many, for a longer look.
FUZZ_SCALE = int(os.environ.get("LIAISON_FUZZ_SCALE", "1"))

# A small directory: enough people for direct chats, a group and an admin.
DIRECTORY_CSV = """email;first_name;last_name;title;organisation;organisation_kind;unit;unit_kind;area;roles;benefits;languages
aino@kela.example;Aino;Asiantuntija;Palveluasiantuntija;Kela;kela;Asiakaspalvelu Itä;customer_service;Itä;service_specialist;;fi
bertil@kela.example;Bertil;Bostad;Ratkaisuasiantuntija;Kela;kela;Turvatiimi Itä;benefit_team;Itä;decision_expert;housing_allowance;fi;sv
cecilia@hva.example;Cecilia;Sosiaali;Sosiaalityöntekijä;Järvi-Suomen hyvinvointialue;social_services;Kuusilahti;municipality;Järvi-Suomi;social_worker;basic_social_assistance;fi
daniel@kela.example;Daniel;Duuni;Ratkaisuasiantuntija;Kela;kela;Turvatiimi Itä;benefit_team;Itä;decision_expert;unemployment_security;fi
eeva@kela.example;Eeva;Esihenkilö;Ryhmäpäällikkö;Kela;kela;Turvatiimi Itä;benefit_team;Itä;supervisor;;fi
admin@kela.example;Anna;Admin;Pääkäyttäjä;Kela;kela;;;;admin;;fi
"""
USERS = ("aino", "bertil", "cecilia", "daniel", "eeva", "admin")

# Settings every test server gets unless the test says otherwise.
TEST_SETTINGS: dict[str, Any] = {
    "offline_grace_seconds": 1.0,
    "pseudonym_secret": TEST_SECRET,
    "password_time_cost": 1,
    "password_memory_kib": 8,
    "password_parallelism": 1,
    # settle() sends a few frames per socket; rate limits are tested with their own values.
    "rate_per_second": 1000.0,
    "rate_burst": 1000,
    "flood_disconnect_after": 1000,
    # Several tests try wrong passwords without moving the clock; login throttling is
    # tested with its own values (tests/test_accounts.py).
    "login_free_failures": 10,
    "login_lock_after": 20,
}


def loopback_listener() -> socket.socket:
    """A bound, listening TCP socket on loopback for a test server, made as uvicorn's own
    bind makes it. The protocol is named: asyncio sets TCP_NODELAY only on sockets whose
    protocol is TCP, and without it a response written in two parts (headers, then body)
    waits about 40 ms for the client's delayed ACK (Nagle), as does a frame sent close
    behind another."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def now_to_the_second() -> datetime:
    """Where test clocks start: now (browsers compare with their own clock), whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


# ------------------------------------------------------------------ servers and clients


@dataclass
class Server:
    url: str
    ws_url: str
    core: Core
    people: dict[str, int]
    clock: ManualClock
    # In-process (ASGI) servers have no socket: HTTP goes straight into the application.
    transport: httpx.AsyncBaseTransport | None = None
    sockets: list[Socket] = field(default_factory=list)

    def http_client(self, **options: Any) -> httpx.AsyncClient:
        """An HTTP client of this server (over its socket, or in process)."""
        options.setdefault("timeout", SAFETY_SECONDS)
        options.setdefault("verify", LOOPBACK_TLS)
        return httpx.AsyncClient(base_url=self.url, transport=self.transport, **options)

    async def client(self, username: str, password: str = PASSWORD) -> Client:
        client = Client(self, username)
        await client.login(password)
        return client

    async def settle(self) -> None:
        """Until the server has handled all the test's sockets sent (and closing), everything
        that set off has run, and the frames it caused are in the sockets' buffers.

        The round trips are heartbeats, as a browser tab sends them: a socket that should
        fall silent is `mute()`d."""
        live = [s for s in self.sockets if s.open and not s.muted]
        for sock in live:
            await sock.sync()
        for sock in self.sockets:
            if not sock.open:
                await sock.ended.wait()
        await self.core.settle()
        for sock in live:
            await sock.sync()

    async def gone(self, name: str) -> None:
        """Until the server has finished with every connection of this person (a browser
        closed, say), so that what follows starts from their disconnect."""
        hub, sessions = self.core.hub, self.core.sessions
        ended = [sessions[c.key] for c in hub.connections_of(self.people[name])]
        await asyncio.gather(*(event.wait() for event in ended))

    async def advance(self, seconds: float) -> None:
        """Moves the clock and lets everything that falls due happen on the way.

        In steps no longer than a browser's heartbeat interval, with a settle (and so a
        heartbeat from every live socket) after each: tabs stay online as they would while
        real time passes. To let everything fall silent, move `clock` directly."""
        step = self.core.settings.heartbeat_interval_seconds
        await self.settle()
        while seconds > 0:
            self.clock.advance(min(step, seconds))
            seconds -= step
            await self.settle()


class Client:
    """One logged-in user: an HTTP session, and WebSockets opened with its cookie."""

    def __init__(self, server: Server, username: str) -> None:
        self.server = server
        self.username = username
        self.http = server.http_client(follow_redirects=False)
        self.person_id = server.people.get(username, 0)

    async def login(self, password: str = PASSWORD) -> httpx.Response:
        page = await self.http.get("/login")
        token = self.http.cookies["liaison_csrf"]
        assert page.status_code == 200
        response = await self.http.post(
            "/login", data={"username": self.username, "password": password, "csrf_token": token}
        )
        return response

    @property
    def csrf(self) -> str:
        return self.http.cookies["liaison_csrf"]

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        headers.setdefault("X-CSRF-Token", self.csrf)
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def socket(self, hello: bool = True, **hello_fields: Any) -> Socket:
        assert self.server.transport is None, "an in-process server has no sockets"
        ws = await websockets.connect(
            self.server.ws_url,
            additional_headers={"Cookie": self.cookie_header()},
            origin=websockets.Origin(self.server.url),
            max_size=None,
            # No keepalive pings: a wall-clock timer in the client, which closed a socket
            # (1011) when a loaded machine held the loop for 20 s; the protocol's own
            # heartbeats, on the test's clock, are what tells a silent connection.
            ping_interval=None,
        )
        sock = Socket(ws, self.server)
        if hello:
            await sock.send({"type": "hello", "v": 1, **hello_fields})
            sock.welcome = await sock.expect("welcome")
            sock.ended = self.server.core.sessions[sock.welcome["me"]["connection"]]
            self.server.sockets.append(sock)
        return sock

    async def close(self) -> None:
        await self.http.aclose()


_refs = itertools.count(1)


class Socket:
    """A test's WebSocket. Frames are read in order into a buffer; `expect` takes from it.

    Every expectation is checked after the server has settled, so a frame that is not
    there by then is not coming: no timeouts decide a test."""

    def __init__(self, ws: websockets.ClientConnection, server: Server) -> None:
        self.ws = ws
        self.server = server
        self.welcome: dict[str, Any] = {}
        self.seen: list[dict[str, Any]] = []
        self.pending: deque[dict[str, Any]] = deque()
        # Set by the server once it has finished with this connection (after it closed).
        self.ended = asyncio.Event()
        self.muted = False

    def mute(self) -> None:
        """From now on this socket sends nothing by itself: no settle round trips either,
        as a frozen browser tab or a dead laptop."""
        self.muted = True

    @property
    def open(self) -> bool:
        return self.ws.state is websockets.State.OPEN

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def _read(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), SAFETY_SECONDS))
        self.seen.append(frame)
        return frame

    async def sync(self) -> None:
        """A heartbeat round trip: the server has handled every frame sent before it, and
        every frame it queued for this socket before answering is now in `pending`."""
        ref = f"sync-{next(_refs)}"
        await self.send({"type": "heartbeat", "ref": ref})
        while True:
            frame = await self._read()
            if frame.get("ref") == ref and frame["type"] in ("heartbeat_ack", "error"):
                return
            self.pending.append(frame)

    async def recv(self) -> dict[str, Any]:
        """The next frame (after settling, if none is buffered)."""
        if not self.pending:
            await self.server.settle()
        if not self.pending:
            raise AssertionError("no frame arrived")
        return self.pending.popleft()

    def _take(self, kind: str, match: dict[str, Any]) -> dict[str, Any] | None:
        while self.pending:
            frame = self.pending.popleft()
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame
        return None

    async def expect(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next frame of this type (and these field values); frames before it are
        skipped. Before the welcome, and on a muted socket, this reads the socket directly."""
        if not self.welcome or self.muted:
            while True:
                frame = await self._read()
                if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                    return frame
        frame = self._take(kind, match)
        if frame is None:
            await self.server.settle()
            frame = self._take(kind, match)
        if frame is None:
            seen = [f["type"] for f in self.seen[-20:]]
            raise AssertionError(f"no {kind} frame matching {match}; last seen: {seen}")
        return frame

    async def no_frame(self, kind: str, **match: Any) -> None:
        """Asserts that no such frame has come once the server has settled (kept buffered)."""
        await self.server.settle()
        for frame in self.pending:
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                raise AssertionError(f"unexpected frame {frame}")

    async def read_until(self, kind: str) -> dict[str, Any]:
        """Reads the socket itself up to a frame of this type (for muted sockets)."""
        while True:
            frame = await self._read()
            if frame["type"] == kind:
                return frame
            self.pending.append(frame)

    async def closed(self) -> int | None:
        """Reads until the server closes the socket; returns the close code it sent."""
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                self.pending.append(await self._read())
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


async def _people(core: Core) -> dict[str, int]:
    async with core.db() as db:
        rows = (await db.execute(select(Person.email, Person.id))).all()
    return {email.split("@")[0]: person_id for email, person_id in rows}


# ------------------------------------------------------------------ template databases


def _postgres_url(database: str) -> str:
    base, _, _ = TEST_DATABASE_URL.rpartition("/")
    return f"{base}/{database}"


async def _seed(url: str, directory: bool) -> None:
    """Migrates a new database and, with `directory`, fills it with the test directory and
    its accounts."""
    settings = Settings(**TEST_SETTINGS, database_url=url)
    core = Core(settings, ManualClock(now_to_the_second()))
    await core.start()
    try:
        if not directory:
            return
        report = await import_directory(core.db, "test.csv", DIRECTORY_CSV.encode(), dry_run=False)
        assert not report.errors, report.errors
        people = await _people(core)
        for name in USERS:
            await core.accounts.create_account(name, PASSWORD, people[name], name == "admin")
    finally:
        await core.stop()


@dataclass
class Databases:
    """Hands out fresh copies of two templates built once: `bare` (the schema only) and
    the default (the schema, the test directory and its accounts)."""

    name: str
    directory: Path
    made: list[str] = field(default_factory=list)
    admin: AsyncEngine | None = None

    async def _admin(self, statement: str) -> None:
        """A statement outside any transaction (CREATE and DROP DATABASE need that)."""
        if self.admin is None:
            self.admin = create_async_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        async with self.admin.connect() as conn:
            await conn.exec_driver_sql(statement)

    def _template(self, bare: bool) -> str:
        return f"{self.name}_bare" if bare else self.name

    async def copy(self, bare: bool = False) -> str:
        template = self._template(bare)
        name = f"{self.name}_{uuid.uuid4().hex[:8]}"
        if TEST_DATABASE_URL:
            await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            # Tests need no durability across a crash of the machine: commits skip the
            # wait for the disk (an operator never sets this for real data).
            await self._admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            self.made.append(name)
            return _postgres_url(name)
        target = self.directory / f"{name}.db"
        shutil.copyfile(self.directory / f"{template}.db", target)
        return f"sqlite+aiosqlite:///{target}"

    async def empty(self) -> str:
        """A new database with nothing in it, not even the schema (dropped by `drop`)."""
        name = f"{self.name}_{uuid.uuid4().hex[:8]}"
        if TEST_DATABASE_URL:
            await self._admin(f'CREATE DATABASE "{name}"')
            self.made.append(name)
            return _postgres_url(name)
        return f"sqlite+aiosqlite:///{self.directory / name}.db"

    async def drop(self, url: str) -> None:
        name = url.rpartition("/")[2]
        if TEST_DATABASE_URL and name in self.made:
            self.made.remove(name)
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def create(self) -> None:
        for bare in (True, False):
            template = self._template(bare)
            if TEST_DATABASE_URL:
                await self._admin(f'CREATE DATABASE "{template}"')
                await _seed(_postgres_url(template), directory=not bare)
                continue
            path = self.directory / f"{template}.db"
            await _seed(f"sqlite+aiosqlite:///{path}", directory=not bare)
            # A copy must be one self-contained file: fold the write-ahead log into it.
            engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
            async with engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                await conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
            await engine.dispose()

    async def remove(self) -> None:
        if TEST_DATABASE_URL:
            for name in list(self.made):
                await self.drop(_postgres_url(name))
            for bare in (True, False):
                await self._admin(f'DROP DATABASE IF EXISTS "{self._template(bare)}" WITH (FORCE)')
        if self.admin is not None:
            await self.admin.dispose()


@pytest.fixture(scope="session")
async def databases(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Databases]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    dbs = Databases(f"liaison_t_{worker}_{uuid.uuid4().hex[:6]}", tmp_path_factory.mktemp("db"))
    await dbs.create()
    yield dbs
    await dbs.remove()


# ------------------------------------------------------------------ running a server


@contextlib.asynccontextmanager
async def running_server(
    databases: Databases, in_process: bool = False, **overrides: Any
) -> AsyncIterator[Server]:
    """A server on a copy of the template; `database_url=` reopens an existing database
    (a restart), which this server then does not drop. `in_process` serves HTTP without a
    socket (no WebSockets, no access log): for tests where the wire is not the point."""
    clock = overrides.pop("clock", None) or ManualClock(now_to_the_second())
    database_url = overrides.pop("database_url", None)
    own = database_url is None
    if database_url is None:
        database_url = await databases.copy()
    try:
        if in_process:
            settings = Settings(**{**TEST_SETTINGS, **overrides}, database_url=database_url)
            app = create_app(settings, clock)
            async with app.router.lifespan_context(app):
                yield await _server(app, "http://liaison.test", httpx.ASGITransport(app=app))
        else:
            async with _uvicorn(database_url, clock, overrides) as server:
                yield server
    finally:
        if own:
            await databases.drop(database_url)


async def _server(app: Any, url: str, transport: httpx.AsyncBaseTransport | None) -> Server:
    core: Core = app.state.core
    ws_url = url.replace("http", "ws", 1) + "/ws"
    return Server(url, ws_url, core, await _people(core), core.clock, transport)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def _uvicorn(
    database_url: str, clock: ManualClock, overrides: dict[str, Any]
) -> AsyncIterator[Server]:
    # Bound and listening before uvicorn starts: clients may connect at once (the kernel
    # holds them until uvicorn accepts), and no other process can take the port meanwhile.
    listener = loopback_listener()
    port = listener.getsockname()[1]
    settings = Settings(**{**TEST_SETTINGS, **overrides}, database_url=database_url, port=port)
    app = create_app(settings, clock)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **websocket_options(settings)))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        ready = asyncio.create_task(app.state.core.ready.wait())
        await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            task.result()
            raise RuntimeError("the test server stopped while starting")
        yield await _server(app, f"http://127.0.0.1:{port}", None)
    finally:
        # uvicorn's own exit polls a flag every 0.1 s; shutting down directly saves that.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.shutdown(), SAFETY_SECONDS)
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        listener.close()


@pytest.fixture
async def server(databases: Databases) -> AsyncIterator[Server]:
    async with running_server(databases) as srv:
        yield srv


@pytest.fixture
async def app_server(databases: Databases) -> AsyncIterator[Server]:
    """In process, no sockets: HTTP tests."""
    async with running_server(databases, in_process=True) as srv:
        yield srv


@pytest.fixture(scope="module")
async def shared_server(databases: Databases) -> AsyncIterator[Server]:
    """One server for a module's tests that change nothing another test would notice."""
    async with running_server(databases) as srv:
        yield srv


@pytest.fixture
def server_factory(databases: Databases) -> Any:
    """For tests that need other settings: `async with server_factory(x=1) as srv:`."""

    def make(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Server]:
        return running_server(databases, **overrides)

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that touch a database are marked `database`: the PostgreSQL run takes only
    those (and not the browser tests, whose database does not matter).

    The `long` tests go first: the workers share out the rest while they run, instead of
    one of them starting a long test when the others have nearly finished."""
    for item in items:
        if "databases" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def database_of(server: Server) -> dict[str, str]:
    """The overrides that start another server on this server's database (a restart)."""
    return {"database_url": server.core.settings.database_url}


# ------------------------------------------------------------------ the browser

CHROMIUM = os.environ.get("LIAISON_CHROMIUM", "/usr/bin/chromium")
# Chromium 156 gives every headless window (one a context) two omnibox popup pages that
# nobody can see, each in a renderer of its own that keeps working after: 0.55 CPU-s more
# a context, and a steady drain (the browser tests: 182 -> 119 CPU-s without them).
UNSEEN_FEATURES = ["WebUIOmniboxPopup", "WebUIOmniboxAimPopup"]


def playwright_disabled_features() -> list[str]:
    """The features Playwright disables by itself. Chromium keeps only the last
    --disable-features it is given, so a list of ours must repeat them; read from the
    installed driver (none found: ours alone, and Playwright's defaults are lost)."""
    from playwright._impl._driver import compute_driver_executable

    bundle = Path(compute_driver_executable()[1]).parent / "lib" / "coreBundle.js"
    try:
        text = bundle.read_text(encoding="utf-8")
    except OSError:
        return []
    found = re.search(r"disabledFeatures = \[(.*?)\]", text, re.S)
    if found is None:
        return []
    return re.findall(r'^\s*"(\w+)"', found.group(1), re.M)


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """One browser for a worker's browser tests (a launch costs chromium about a
    CPU-second; it was once per module)."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-features=" + ",".join(playwright_disabled_features() + UNSEEN_FEATURES),
            ],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def browser(chromium: Browser) -> AsyncIterator[Browser]:
    """The worker's browser; each test opens its own contexts, and whatever the test left
    open is closed after it (a page left open keeps its socket, heartbeats and timers
    running through every later test)."""
    yield chromium
    for context in list(chromium.contexts):
        await context.close()


# ---------------------------------------------------------------- Redis and two nodes

REDIS_URL = os.environ.get("LIAISON_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _unreachable() -> str | None:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5, socket_timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as e:
        return f"Redis at {REDIS_URL} does not answer ({type(e).__name__})"
    return None


@pytest.fixture(scope="module")
def redis_server() -> str:
    reason = _unreachable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs Redis: {reason}")
        pytest.skip(reason)
    return REDIS_URL


def namespaced(url: str) -> str:
    """A bus URL whose channels no other test (or run) shares."""
    return f"{url}?namespace=liaison-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_url(redis_server: str) -> str:
    return namespaced(redis_server)


@pytest.fixture
async def nodes(server_factory: Any, redis_url: str) -> AsyncIterator[tuple[Server, Server]]:
    """Two nodes on one database and one Redis (one namespace), one clock."""
    async with server_factory(bus_url=redis_url) as a:
        same = {"database_url": a.core.settings.database_url, "clock": a.clock}
        async with server_factory(bus_url=redis_url, **same) as b:
            yield a, b


async def settle(*servers: Server) -> None:
    """Each node in turn, twice: what one published is in Redis once it settled (its
    marker came back after it), so the next one's marker comes back after that too."""
    for _ in range(2):
        for server in servers:
            await server.settle()


async def advance(seconds: float, *servers: Server) -> None:
    """Moves the nodes' one clock in heartbeat steps, with every node settled after each
    (as Server.advance does for one node)."""
    step = servers[0].core.settings.heartbeat_interval_seconds
    await settle(*servers)
    while seconds > 0:
        servers[0].clock.advance(min(step, seconds))
        seconds -= step
        await settle(*servers)
