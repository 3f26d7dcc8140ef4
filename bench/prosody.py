"""Prosody as the reference: Debian's package, started by the harness with its own
configuration on loopback, driven over XMPP on WebSocket (RFC 7395) by a minimal client
(SASL PLAIN, bind, roster, presence, message, MUC)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench import http
from bench.core import Client, Heartbeats, Probe, now
from bench.liaison import PASSWORD, free_port, username
from bench.wsclient import open_ws

DOMAIN = "localhost"
MUC = f"conference.{DOMAIN}"
ROOM = f"bench@{MUC}"
FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"

CONFIG = """-- Written by bench/prosody.py for one benchmark run; loopback only.
daemonize = false
-- The harness may run as root (CI does); Prosody refuses that unless told.
run_as_root = true
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
log = {{ warn = "{dir}/prosody.log" }}
network_backend = "epoll"
use_libevent = false
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
s2s_direct_tls_ports = {{ }}
http_ports = {{ {port} }}
http_interfaces = {{ "127.0.0.1" }}
https_ports = {{ }}
admin_socket = "{dir}/admin.sock"
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "websocket"; "http" }}
modules_disabled = {{ "s2s"; "offline"; "tls"; "admin_shell" }}
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
consider_websocket_secure = true
-- Connections are not throttled (mod_limits is not loaded).
VirtualHost "{domain}"
Component "{muc}" "muc"
    restrict_room_creation = false
    muc_room_locking = false
    muc_room_default_history_length = 0
    max_history_messages = 0
"""


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def jid(index: int) -> str:
    return f"{username(index)}@{DOMAIN}"


_STANZA = re.compile(rb"<([a-z:]+)")
_ATTR = {
    name: re.compile(rb" " + name.encode() + rb"=['\"]([^'\"]*)['\"]")
    for name in ("id", "from", "type")
}
_SHOW = re.compile(rb"<show>([a-z]+)</show>")


def _attr(data: bytes, name: str) -> str:
    m = _ATTR[name].search(data)
    return m.group(1).decode() if m else ""


class XmppClient(Client):
    def __init__(self, index: int, probe: Probe, target: ProsodyTarget) -> None:
        super().__init__(index, probe)
        self.target = target
        self.step = "features"
        self.in_room = False

    def write(self, xml: str) -> bool:
        return self.conn is not None and self.conn.send_text(xml.encode())

    def open_stream(self) -> None:
        self.write(f"<open xmlns='{FRAMING}' to='{DOMAIN}' version='1.0'/>")

    def on_text(self, data: bytes) -> None:
        at = now()
        m = _STANZA.match(data)
        kind = m.group(1).decode() if m else "?"
        probe = self.probe
        probe.frame(kind, len(data))
        if self.step != "online":
            if kind == "stream:error":
                self._fail(f"stream error: {data[:200]!r}")
            self._login(kind, data)
            return
        if kind == "message":
            if probe.want_messages and b"<body>" in data:
                sender = _attr(data, "from")
                if not sender.endswith(f"/{username(self.index)}") and not sender.startswith(
                    jid(self.index)
                ):
                    probe.message(_attr(data, "id"), at)
        elif kind == "presence":
            if not self.in_room and _attr(data, "from") == f"{ROOM}/{username(self.index)}":
                self.in_room = True  # the room's echo of our own join
            if probe.want_presence and probe.on_presence is not None:
                sender = _attr(data, "from")
                if sender.startswith("u") and "@" in sender and _attr(data, "type") == "":
                    index = int(sender[1 : sender.index("@")])
                    show = _SHOW.search(data)
                    status = show.group(1).decode() if show else "available"
                    probe.on_presence(self, index, status, at)

    def _login(self, kind: str, data: bytes) -> None:
        # RFC 7395: <open/> and features, SASL PLAIN, a new stream, bind, roster, presence.
        if self.step == "features" and kind == "stream:features":
            token = base64.b64encode(f"\0{username(self.index)}\0{PASSWORD}".encode()).decode()
            self.write(
                f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>"
            )
            self.step = "auth"
        elif self.step == "auth":
            if kind == "success":
                self.step = "features2"
                self.open_stream()
            elif kind == "failure":
                self._fail(f"SASL failure: {data[:200]!r}")
        elif self.step == "features2" and kind == "stream:features":
            self.write(
                "<iq xmlns='jabber:client' type='set' id='bind'>"
                "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                f"<resource>{username(self.index)}</resource></bind></iq>"
            )
            self.step = "bind"
        elif self.step == "bind" and kind == "iq":
            if _attr(data, "type") != "result":
                self._fail(f"bind failed: {data[:200]!r}")
                return
            # As a client does: the roster first, then presence (the server echoes it back).
            self.write(
                "<iq xmlns='jabber:client' type='get' id='roster'>"
                "<query xmlns='jabber:iq:roster'/></iq>"
            )
            self.write("<presence xmlns='jabber:client'/>")
            self.step = "presence"
        elif self.step == "presence" and kind == "presence":
            if _attr(data, "from").startswith(f"{jid(self.index)}/"):
                self.step = "online"
                if self.ready is not None and not self.ready.done():
                    self.ready.set_result(None)

    def _fail(self, reason: str) -> None:
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(RuntimeError(reason))


class ProsodyTarget:
    kind = "prosody"

    def __init__(self, workdir: Path) -> None:
        self.name = "prosody"
        self.workdir = Path(tempfile.mkdtemp(prefix="prosody-", dir=workdir))
        self.port = free_port()
        self.host = "127.0.0.1"
        self.ws_url = f"ws://{self.host}:{self.port}/xmpp-websocket"
        self.process: subprocess.Popen[bytes] | None = None
        self.heartbeats = Heartbeats(10.0, self._beat)
        self.roster_subject = -1
        self.profiler = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @staticmethod
    def ensure_installed() -> None:
        if shutil.which("prosody"):
            return
        print("installing Debian's prosody for the side-by-side run", flush=True)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            [*sudo, "apt-get", "install", "-y", "-qq", "prosody"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        # The package may start a system-wide service: this harness runs its own instance.
        with contextlib.suppress(Exception):
            subprocess.run([*sudo, "service", "prosody", "stop"], capture_output=True, timeout=30)

    async def provision(self, users: int, watchers: tuple[int, list[int]] | None) -> None:
        """Accounts and rosters written as Prosody's internal storage files, in bulk (one
        `prosodyctl register` per user would start Lua 10,000 times). The presence
        scenario's subject has its watchers in its roster (subscription both)."""
        data = self.workdir / "data" / DOMAIN
        (data / "accounts").mkdir(parents=True)
        (data / "roster").mkdir()
        (self.workdir / "certs").mkdir()
        account = f'return {{ ["password"] = {_lua_string(PASSWORD)}; }};\n'
        for i in range(users):
            (data / "accounts" / f"{username(i)}.dat").write_text(account)
        if watchers is not None:
            subject, people = watchers
            self.roster_subject = subject
            item = '{ ["subscription"] = "both"; ["groups"] = {}; }'
            lines = [f"[{_lua_string(jid(w))}] = {item};" for w in people]
            (data / "roster" / f"{username(subject)}.dat").write_text(
                'return { [false] = { ["version"] = 1; };\n' + "\n".join(lines) + "\n};\n"
            )
            back = (
                'return { [false] = { ["version"] = 1; }; '
                f"[{_lua_string(jid(subject))}] = {item}; }};\n"
            )
            for w in people:
                (data / "roster" / f"{username(w)}.dat").write_text(back)
        config = self.workdir / "prosody.cfg.lua"
        config.write_text(CONFIG.format(dir=self.workdir, port=self.port, domain=DOMAIN, muc=MUC))

    async def start(self) -> None:
        log = open(self.workdir / "stdout.log", "wb")
        self.process = subprocess.Popen(
            ["prosody", "-F", "--config", str(self.workdir / "prosody.cfg.lua")],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        deadline = now() + 30
        while now() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prosody exited: {self.log_tail()}")
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                response = await http.request(
                    self.host, self.port, "GET", "/xmpp-websocket", timeout=2
                )
                if response.status < 500:
                    self.heartbeats.start()
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"prosody did not answer within 30 s: {self.log_tail()}")

    async def stop(self) -> None:
        await self.heartbeats.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait, 10)

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        text = ""
        for name in ("stdout.log", "prosody.log"):
            with contextlib.suppress(OSError):
                text += (self.workdir / name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def log_warnings(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with contextlib.suppress(OSError):
            for line in (self.workdir / "prosody.log").read_text(errors="replace").splitlines():
                key = " ".join(line.split()[3:9])[:100]
                counts[key] = counts.get(key, 0) + 1
        return counts

    def client(self, index: int, probe: Probe) -> XmppClient:
        return XmppClient(index, probe, self)

    async def connect(self, client: Client, timeout: float = 60.0) -> None:
        assert isinstance(client, XmppClient)
        client.step = "features"
        client.ready = asyncio.get_running_loop().create_future()
        client.conn = None
        try:
            client.conn = await open_ws(
                self.host,
                self.port,
                self.ws_url,
                client.on_text,
                timeout,
                subprotocols=["xmpp"],
                on_close=client.closed,
            )
            client.open_stream()
            await asyncio.wait_for(client.ready, timeout)
        except BaseException:
            if client.conn is not None:
                client.conn.closed_by_client = True
                client.conn.abort()
            raise
        self.heartbeats.add(client)

    def disconnect(self, client: Client) -> None:
        assert isinstance(client, XmppClient)
        self.heartbeats.remove(client)
        if client.conn is not None:
            client.write(f"<close xmlns='{FRAMING}'/>")
            client.conn.close()

    def _beat(self, client: Client) -> None:
        # XEP-0199 ping at the interval Liaison's clients send heartbeats.
        assert isinstance(client, XmppClient)
        client.write(
            "<iq xmlns='jabber:client' type='get' id='ping'><ping xmlns='urn:xmpp:ping'/></iq>"
        )

    # workloads

    async def open_direct(self, a: Client, b: Client) -> Any:
        return ("direct", a.index, b.index)  # XMPP needs no conversation: the other's JID

    async def open_group(self, owner: Client, members: list[Client]) -> Any:
        """Everyone joins one MUC room (the owner first, so it creates it)."""
        for person in [owner, *members]:
            assert isinstance(person, XmppClient)
            person.write(
                f"<presence xmlns='jabber:client' to='{ROOM}/{username(person.index)}'>"
                "<x xmlns='http://jabber.org/protocol/muc'/></presence>"
            )
            if person is owner:
                await asyncio.sleep(0.2)
        # Each join is confirmed by the room echoing the member's own presence.
        everyone = [owner, *members]
        deadline = now() + 120
        while not all(isinstance(p, XmppClient) and p.in_room for p in everyone):
            if now() > deadline:
                raise RuntimeError("not every member joined the MUC room within 120 s")
            await asyncio.sleep(0.1)
        return ROOM

    async def prepare_watchers(self, subject: Client, watchers: list[Client]) -> None:
        if subject.index != self.roster_subject:
            raise RuntimeError("the presence subject's roster is written at provisioning")

    def send_message(self, client: Client, conversation: Any, token: str, body: str) -> bool:
        assert isinstance(client, XmppClient)
        if conversation == ROOM:
            to, kind = ROOM, "groupchat"
        else:
            _, a, b = conversation
            to, kind = jid(b if client.index == a else a), "chat"
        return client.write(
            f"<message xmlns='jabber:client' to='{to}' type='{kind}' id='{token}'>"
            f"<body>{body}</body></message>"
        )

    def set_away(self, client: Client, away: bool) -> None:
        assert isinstance(client, XmppClient)
        client.write(
            "<presence xmlns='jabber:client'><show>away</show></presence>"
            if away
            else "<presence xmlns='jabber:client'/>"
        )

    @staticmethod
    def is_away(status: str) -> bool:
        return status == "away"

    async def start_profile(self, output: Path, fmt: str, idle: bool) -> None:
        raise RuntimeError("profiling is for Liaison (py-spy); Prosody is Lua")

    async def stop_profile(self) -> None:
        return None
