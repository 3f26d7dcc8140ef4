"""A real server on a free loopback port, and clients that talk to it over real sockets.

The suite runs on SQLite by default; with LIAISON_TEST_DATABASE_URL set to a PostgreSQL URL
it runs again there, each server in a schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from liaison.config import Settings
from liaison.services.core import Core
from liaison.services.directory_import import import_directory
from liaison.store.models import Person
from liaison.web.app import create_app

PASSWORD = "test-password-1"
TEST_SECRET = "test-pseudonym-secret-0123456789"
TEST_DATABASE_URL = os.environ.get("LIAISON_TEST_DATABASE_URL", "")

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    ws_url: str
    core: Core
    people: dict[str, int]

    async def client(self, username: str, password: str = PASSWORD) -> Client:
        client = Client(self, username)
        await client.login(password)
        return client


class Client:
    """One logged-in user: an HTTP session, and WebSockets opened with its cookie."""

    def __init__(self, server: Server, username: str) -> None:
        self.server = server
        self.username = username
        self.http = httpx.AsyncClient(base_url=server.url, follow_redirects=False, timeout=10)
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
        ws = await websockets.connect(
            self.server.ws_url,
            additional_headers={"Cookie": self.cookie_header()},
            origin=websockets.Origin(self.server.url),
            max_size=None,
        )
        sock = Socket(ws)
        if hello:
            await sock.send({"type": "hello", "v": 1, **hello_fields})
            sock.welcome = await sock.expect("welcome")
        return sock

    async def close(self) -> None:
        await self.http.aclose()


class Socket:
    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}
        self.seen: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def recv(self, timeout: float = 5) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.seen.append(frame)
        return frame

    async def expect(self, kind: str, timeout: float = 5, **match: Any) -> dict[str, Any]:
        """The next frame of this type (and these field values); others are skipped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {kind} frame matching {match} within {timeout} s")
            try:
                frame = await self.recv(remaining)
            except TimeoutError:
                raise AssertionError(
                    f"no {kind} frame matching {match} within {timeout} s"
                ) from None
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def no_frame(self, kind: str, seconds: float, **match: Any) -> None:
        """Asserts that no such frame arrives for a while."""
        with contextlib.suppress(AssertionError):
            frame = await self.expect(kind, seconds, **match)
            raise RuntimeError(f"unexpected frame {frame}")

    def keep_alive(self, every: float = 0.5) -> None:
        """Heartbeats in the background, as a live browser tab sends them."""

        async def beat() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    await self.send({"type": "heartbeat", "active": True})
                    await asyncio.sleep(every)

        self._beat = asyncio.create_task(beat())

    async def close(self) -> None:
        if getattr(self, "_beat", None) is not None:
            self._beat.cancel()
        await self.ws.close()


async def _people(core: Core) -> dict[str, int]:
    async with core.db() as db:
        rows = (await db.execute(select(Person.email, Person.id))).all()
    return {email.split("@")[0]: person_id for email, person_id in rows}


@contextlib.asynccontextmanager
async def running_server(tmp_path: Path, **overrides: Any) -> AsyncIterator[Server]:
    clock = overrides.pop("clock", None)  # a ManualClock for tests that move time
    schema, drop_schema = "", False
    if "database_url" in overrides:
        # A second server on an existing database: a restart.
        database_url = overrides.pop("database_url")
        schema = overrides.pop("database_schema", "")
    elif TEST_DATABASE_URL:
        database_url = TEST_DATABASE_URL
        schema, drop_schema = f"t_{uuid.uuid4().hex[:12]}", True
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path}/liaison-{uuid.uuid4().hex[:6]}.db"
    port = free_port()
    settings = Settings(
        **{"offline_grace_seconds": 1.0, "pseudonym_secret": TEST_SECRET, **overrides},
        database_url=database_url,
        database_schema=schema,
        port=port,
    )
    app = create_app(settings, clock)
    core: Core = app.state.core
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, ws="websockets-sansio", log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        people = await _people(core)
        if not people:
            report = await import_directory(
                core.db, "test.csv", DIRECTORY_CSV.encode(), dry_run=False
            )
            assert not report.errors, report.errors
            await core.presence.reload_people()
            people = await _people(core)
            for name in USERS:
                await core.accounts.create_account(name, PASSWORD, people[name], name == "admin")
        yield Server(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws", core, people)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
        if drop_schema:
            engine = create_async_engine(database_url)
            async with engine.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await engine.dispose()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with running_server(tmp_path) as srv:
        yield srv


@pytest.fixture
def server_factory(tmp_path: Path) -> Any:
    """For tests that need other settings: `async with server_factory(x=1) as srv:`."""

    def make(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Server]:
        return running_server(tmp_path, **overrides)

    return make
