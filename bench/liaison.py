"""Liaison as a benchmark target: provisioned through its own commands (and one bulk path
through the library for thousands of accounts), run as `liaison serve` in a process of its
own, and driven over HTTP logins and real WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import http
from bench.core import Client, Heartbeats, Probe, now
from bench.wsclient import open_ws

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"
EMAIL_DOMAIN = "bench.example"
RING_ID = "bench_ring"
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def username(index: int) -> str:
    return f"u{index:05d}"


def email(index: int) -> str:
    return f"{username(index)}@{EMAIL_DOMAIN}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _type_of(data: bytes) -> str:
    # Every server frame is encoded with "type" first (liaison.services.hub.encode).
    if data.startswith(b'{"type":"'):
        end = data.find(b'"', 9)
        if end > 0:
            return data[9:end].decode()
    try:
        return str(json.loads(data).get("type"))
    except (ValueError, AttributeError):
        return "?"


class LiaisonClient(Client):
    target: LiaisonTarget

    def __init__(self, index: int, probe: Probe, target: LiaisonTarget) -> None:
        super().__init__(index, probe)
        self.target = target
        self.cookies: dict[str, str] = {}
        self.person_id = target.person_ids.get(email(index), 0)
        # Whose presence the client shows besides its own (`hello.watch`, as the page).
        self.watch: list[int] = []

    def on_text(self, data: bytes) -> None:
        at = now()
        kind = _type_of(data)
        probe = self.probe
        probe.frame(kind, len(data))
        if kind == "welcome":
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(None)
        elif kind == "message":
            if probe.want_messages:
                message = json.loads(data)["message"]
                if message["sender_id"] != self.person_id:
                    probe.message(message["client_id"], at)
        elif kind == "ack":
            if probe.want_messages:
                probe.acked(json.loads(data)["id"], at)
        elif kind == "presence":
            if probe.want_presence and probe.on_presence is not None:
                frame = json.loads(data)
                index = self.target.index_of.get(frame["person_id"], -1)
                probe.on_presence(self, index, frame["status"], at)
        elif probe.want_ring and probe.on_ring is not None and kind in RING_FRAMES:
            probe.on_ring(self, kind, json.loads(data), at)

    def send(self, frame: dict[str, Any]) -> bool:
        return self.conn is not None and self.conn.send_text(
            json.dumps(frame, separators=(",", ":")).encode()
        )


RING_FRAMES = {
    "offer",
    "offer_withdrawn",
    "question_status",
    "accepted",
    "consultation",
    "consultation_closed",
    "rings",
    "error",
}


class LiaisonTarget:
    """One `liaison serve` process with its own database (SQLite file or PostgreSQL schema)."""

    kind = "liaison"

    def __init__(
        self, database: str, workdir: Path, deflate: bool = True, sessions: str = "login"
    ) -> None:
        self.database = database  # "sqlite" or "postgres"
        self.name = f"liaison-{database}"
        # "login": every client logs in (argon2 verify, ~0.2 s of server CPU) before its
        # socket; "ahead": sessions made in bulk before the server starts, as for people
        # whose browser logged in earlier (a session lasts days), so that 10,000 connects
        # measure the socket and its welcome, not 10,000 password checks in a row.
        self.sessions = sessions
        self.session_tokens: dict[int, str] = {}
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=workdir))
        self.deflate = deflate
        self.port = free_port()
        self.host = "127.0.0.1"
        self.base = f"http://{self.host}:{self.port}"
        self.ws_url = f"ws://{self.host}:{self.port}/ws"
        self.schema = f"bench_{secrets.token_hex(5)}" if database == "postgres" else ""
        self.database_url = (
            POSTGRES_URL
            if database == "postgres"
            else f"sqlite+aiosqlite:///{self.workdir}/bench.db"
        )
        self.env = {
            **os.environ,
            "LIAISON_DATABASE_URL": self.database_url,
            "LIAISON_DATABASE_SCHEMA": self.schema,
            "LIAISON_PSEUDONYM_SECRET": secrets.token_hex(16),
            "LIAISON_HOST": self.host,
            "LIAISON_PORT": str(self.port),
            "LIAISON_LOG_LEVEL": "warning",
            # The one setting a benchmark needs beyond the defaults: a group of 200.
            "LIAISON_MAX_GROUP_MEMBERS": "250",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.person_ids: dict[str, int] = {}
        self.index_of: dict[int, int] = {}
        self.heartbeat_interval = 10.0
        self.heartbeats = Heartbeats(self.heartbeat_interval, self._beat)
        self.log_path = self.workdir / "server.log"
        self.profiler: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    # provisioning and process

    def _cli(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "liaison.cli", *args],
            env=env or self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"liaison {args[0]} failed: {result.stderr[-2000:]}")
        return result.stdout

    async def provision(self, users: int, ring_members: list[int], sessions_ahead: int = 0) -> None:
        """The directory by `liaison import`, the ring by `liaison rings`, the first account by
        `liaison create-account`, the other accounts in one transaction through the library
        (each password hashed by `liaison create-account` would take argon2's time 10,000
        times)."""
        rows = [
            "email;first_name;last_name;title;organisation;organisation_kind;unit;unit_kind;"
            "area;roles;benefits;languages"
        ]
        for i in range(users):
            rows.append(
                f"{email(i)};Bench{i};Person{i};Palveluasiantuntija;Kela;kela;"
                f"Kuormitus {i // 500};customer_service;Itä;service_specialist;"
                "housing_allowance;fi"
            )
        csv = self.workdir / "directory.csv"
        csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        self._cli("import", str(csv))
        rings = {
            "rings": [
                {
                    "id": RING_ID,
                    "name": "Kuormitustesti",
                    "benefit": "housing_allowance",
                    "method": "ring_all",
                    "alert_seconds": 20,
                    "queue_timeout_seconds": 180,
                    "max_concurrent": 1,
                    "members": [email(i) for i in ring_members],
                }
            ]
        }
        ring_file = self.workdir / "rings.json"
        ring_file.write_text(json.dumps(rings), encoding="utf-8")
        self._cli("rings", str(ring_file))
        self._cli(
            "create-account",
            "--email",
            email(0),
            "--username",
            username(0),
            env={**self.env, "LIAISON_NEW_PASSWORD": PASSWORD},
        )
        await self._bulk_accounts(users, sessions_ahead if self.sessions == "ahead" else 0)

    async def _bulk_accounts(self, users: int, sessions_ahead: int) -> None:
        from sqlalchemy import insert, select

        from liaison.config import Settings
        from liaison.services.core import StoreCore
        from liaison.store.models import Account, Person

        settings = Settings(database_url=self.database_url, database_schema=self.schema)
        # The store only, as a one-off command opens it (`liaison import` made the schema).
        core = StoreCore(settings)
        try:
            # One argon2 hash (the server's own hasher and parameters) for every account: each
            # login still verifies it at full cost.
            password_hash = await core.accounts.hash_password(PASSWORD)
            created = core.clock.now()
            async with core.db.begin() as db:
                rows = (await db.execute(select(Person.email, Person.id))).all()
                self.person_ids = {e: pid for e, pid in rows}
                have = set((await db.scalars(select(Account.username))).all())
                new = [
                    {
                        "username": username(i),
                        "password_hash": password_hash,
                        "person_id": self.person_ids[email(i)],
                        "is_admin": False,
                        "disabled": False,
                        "created_at": created,
                    }
                    for i in range(users)
                    if username(i) not in have
                ]
                if new:
                    await db.execute(insert(Account), new)
                if sessions_ahead:
                    await self._bulk_sessions(db, sessions_ahead, created)
        finally:
            await core.close()
        self.index_of = {
            pid: int(e.split("@")[0][1:])
            for e, pid in self.person_ids.items()
            if e.endswith(EMAIL_DOMAIN)
        }

    async def _bulk_sessions(self, db: Any, users: int, created: Any) -> None:
        from datetime import timedelta

        from sqlalchemy import insert, select

        from liaison.services.accounts import token_hash
        from liaison.store.models import Account
        from liaison.store.models import Session as SessionRow

        accounts = dict((await db.execute(select(Account.username, Account.id))).all())
        rows = []
        for i in range(users):
            token = secrets.token_urlsafe(32)
            self.session_tokens[i] = token
            rows.append(
                {
                    "token_hash": token_hash(token),
                    "account_id": accounts[username(i)],
                    "created_at": created,
                    "expires_at": created + timedelta(days=7),
                }
            )
        await db.execute(insert(SessionRow), rows)

    async def start(self) -> None:
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "liaison.cli", "serve"],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = now() + 60
        while now() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"liaison serve exited: {self.log_tail()}")
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                response = await http.request(self.host, self.port, "GET", "/login", timeout=2)
                if response.status == 200:
                    self.heartbeats.start()
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"liaison serve did not answer within 60 s: {self.log_tail()}")

    async def stop(self) -> None:
        await self.heartbeats.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(self.process.wait, 20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait, 10)
        if self.schema:
            import asyncpg  # type: ignore[import-untyped]

            conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            finally:
                await conn.close()

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_warnings(self) -> dict[str, int]:
        """Counts of the server's WARNING/ERROR log lines by their first words."""
        counts: dict[str, int] = {}
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return counts
        for line in text.splitlines():
            if line.startswith(("WARNING", "ERROR", "CRITICAL")):
                key = " ".join(line.split()[:6])[:100]
                counts[key] = counts.get(key, 0) + 1
        return counts

    # clients

    def client(self, index: int, probe: Probe) -> LiaisonClient:
        return LiaisonClient(index, probe, self)

    async def login(self, client: LiaisonClient) -> None:
        page = await http.request(self.host, self.port, "GET", "/login")
        csrf = page.cookies.get("liaison_csrf")
        if page.status != 200 or not csrf:
            raise RuntimeError(f"GET /login: HTTP {page.status}")
        response = await http.request(
            self.host,
            self.port,
            "POST",
            "/login",
            cookies={"liaison_csrf": csrf},
            headers={"Origin": self.base},
            form={"username": username(client.index), "password": PASSWORD, "csrf_token": csrf},
        )
        session = response.cookies.get("liaison_session")
        if response.status != 303 or not session:
            raise RuntimeError(f"POST /login: HTTP {response.status}")
        # The login hands out a new CSRF token, bound to the session (docs/accounts.md).
        rotated = response.cookies.get("liaison_csrf") or csrf
        client.cookies = {"liaison_csrf": rotated, "liaison_session": session}

    async def csrf(self, client: LiaisonClient) -> str:
        """The CSRF token for a client whose session was made ahead: the one the workspace
        page hands a signed-in browser."""
        if "liaison_csrf" not in client.cookies:
            page = await http.request(self.host, self.port, "GET", "/", cookies=client.cookies)
            token = page.cookies.get("liaison_csrf")
            if page.status != 200 or not token:
                raise RuntimeError(f"GET /: HTTP {page.status}, no CSRF cookie")
            client.cookies["liaison_csrf"] = token
        return client.cookies["liaison_csrf"]

    async def connect(self, client: Client, timeout: float = 60.0) -> None:
        """Login (when not logged in yet), socket, hello, until welcome: a person coming online."""
        assert isinstance(client, LiaisonClient)
        if not client.cookies:
            token = self.session_tokens.get(client.index)
            if token is None:
                await self.login(client)
            else:
                client.cookies = {"liaison_session": token}
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        client.ready = asyncio.get_running_loop().create_future()
        client.conn = None
        try:
            client.conn = await open_ws(
                self.host,
                self.port,
                self.ws_url,
                client.on_text,
                timeout,
                origin=self.base,
                headers=[("Cookie", cookie)],
                deflate=self.deflate,
                on_close=client.closed,
            )
            hello: dict[str, Any] = {"type": "hello", "v": 1, "active": True, "resume": {}}
            if client.watch:
                hello["watch"] = client.watch
            client.send(hello)
            await asyncio.wait_for(client.ready, timeout)
        except BaseException:
            # Given up (deadline or failure): the person is not online, not half-connected.
            if client.conn is not None:
                client.conn.closed_by_client = True
                client.conn.abort()
            raise
        self.heartbeats.add(client)

    def disconnect(self, client: Client) -> None:
        self.heartbeats.remove(client)
        if client.conn is not None:
            client.conn.close()

    def _beat(self, client: Client) -> None:
        assert isinstance(client, LiaisonClient)
        client.send({"type": "heartbeat", "active": True})

    async def api(self, client: LiaisonClient, method: str, path: str, body: Any) -> Any:
        response = await http.request(
            self.host,
            self.port,
            method,
            path,
            cookies=client.cookies,
            headers={"X-CSRF-Token": await self.csrf(client), "Origin": self.base},
            json_body=body,
            timeout=120,
        )
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status} {response.body[:200]!r}")
        return response.json()

    # workloads

    async def open_direct(self, a: Client, b: Client) -> Any:
        assert isinstance(a, LiaisonClient) and isinstance(b, LiaisonClient)
        result = await self.api(a, "POST", "/api/conversations", {"person_id": b.person_id})
        return result["id"]

    async def open_group(self, owner: Client, members: list[Client]) -> Any:
        assert isinstance(owner, LiaisonClient)
        ids = [m.person_id for m in members if isinstance(m, LiaisonClient)]
        result = await self.api(
            owner, "POST", "/api/conversations", {"title": "Kuormitus", "members": ids}
        )
        return result["id"]

    async def prepare_watchers(self, subject: Client, watchers: list[Client]) -> None:
        """Watchers are the subject's conversation partners: whoever shows that person."""
        sem = asyncio.Semaphore(8)

        async def one(w: Client) -> None:
            async with sem:
                await self.open_direct(subject, w)

        await asyncio.gather(*(one(w) for w in watchers))

    def send_message(self, client: Client, conversation: Any, token: str, body: str) -> bool:
        assert isinstance(client, LiaisonClient)
        return client.send(
            {"type": "send", "id": token, "conversation_id": conversation, "body": body}
        )

    def set_away(self, client: Client, away: bool) -> None:
        assert isinstance(client, LiaisonClient)
        client.send({"type": "set_presence", "status": "away" if away else "available"})

    @staticmethod
    def is_away(status: str) -> bool:
        return status == "away"

    async def start_profile(self, output: Path, fmt: str, idle: bool) -> None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        args = [py_spy, "record", "--pid", str(self.pid), "-o", str(output), "--format", fmt]
        args += ["--rate", "100", "--threads"]
        if idle:
            args.append("--idle")
        self.profiler = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        await asyncio.sleep(1.0)  # py-spy attaches before the measured work starts
        if self.profiler.poll() is not None:
            err = self.profiler.stderr.read().decode() if self.profiler.stderr else ""
            self.profiler = None
            raise RuntimeError(f"py-spy did not start: {err[-500:]}")

    async def stop_profile(self) -> None:
        if self.profiler is None:
            return
        self.profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            await asyncio.to_thread(self.profiler.wait, 60)
        except subprocess.TimeoutExpired:
            self.profiler.kill()
        self.profiler = None
