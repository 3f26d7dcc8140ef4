"""Command line: `liaison serve | demo | migrate | import | rings | create-account | purge`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import json
import logging
import os
import resource
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import uvicorn

from liaison.config import ConfigError, Settings

if TYPE_CHECKING:
    from liaison.services.core import StoreCore

# File descriptors kept for the database, logs and the rest when sizing connections.
RESERVED_DESCRIPTORS = 200
GIL_SWITCH_SECONDS = 0.001


def connection_limit(settings: Settings) -> int:
    """Raises the file-descriptor limit to its hard limit and returns how many connections
    to serve at once: below it, so that the limit is met with a prompt 503, not with
    accept() failing in a loop and requests hanging."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 65536)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    derived = max(100, hard - RESERVED_DESCRIPTORS)
    return min(settings.max_connections or derived, derived)


class _Server(uvicorn.Server):
    """Says on stdout when the server accepts connections.

    The app's lifespan runs before uvicorn binds the socket, so the line is printed
    here, after the bind: whoever waits for it (a user, the demo test) can connect."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)  # exits the process when it cannot bind
        port = self.servers[0].sockets[0].getsockname()[1]
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        tune_garbage_collector()
        print(f"Liaison is ready at http://{host}:{port}", flush=True)


def tune_garbage_collector() -> None:
    """Keep the cycle collector's pauses short with thousands of connections.

    CPython's default (a young collection every 700 new objects, a full one every 100 of
    those once a quarter of the old objects are new) made a server holding 10,000
    sockets walk millions of objects again and again: 39 full collections of 1-9 s in
    six minutes of the benchmark on a busy 2-core machine, most of the chat's 99th
    percentile. Objects made while starting (modules, the app, caches) live as long as
    the process, so they are frozen out of the collector's view; young collections run
    every 50,000 objects, and a full one at most every 2,000 young ones. Reference
    counting still frees everything that is not in a cycle at once."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def websocket_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's WebSocket settings, the same for `liaison serve` and the tests' servers.

    No protocol pings: the clients' heartbeats already tell a silent connection (closed
    with 4010 when its presence report expires), and a dead peer is cut by the close
    handshake's timeout. Pings would double the idle traffic, and their wall-clock timer
    closed test sockets (1011) on a loaded machine."""
    return {
        "ws": "websockets-sansio",
        "ws_per_message_deflate": settings.ws_compression,
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
    }


def _serve(settings: Settings) -> None:
    from liaison.web.app import create_app

    # The database threads (the message writer, aiosqlite's) hand the GIL back and forth
    # with the event loop many times per transaction; at the default 5 ms a busy loop
    # makes each of them wait that long, and a batch of messages tens of milliseconds.
    sys.setswitchinterval(GIL_SWITCH_SECONDS)

    server = _Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            limit_concurrency=connection_limit(settings),
            **websocket_options(settings),
            loop="auto",  # uvloop where installed
            proxy_headers=True,
            log_level=settings.log_level,
        )
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C stops the server; no traceback
        server.run()


async def _seed_demo(settings: Settings) -> None:
    from liaison.demo import DEMO_PASSWORD, seed_demo
    from liaison.services.core import Core

    def progress(line: str) -> None:
        print(f"  {line}", flush=True)

    print("Preparing the demo database ...", flush=True)
    core = Core(settings)
    await core.start()
    try:
        logins = await seed_demo(core, progress)
    finally:
        await core.stop()
    if logins:
        print(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for login in logins:
            print(f"  {login.username:28} {login.name:26} {login.description}")
        print(flush=True)


async def _one_off(settings: Settings, job: str, args: argparse.Namespace) -> int:
    """A one-off command: the store alone, opened and closed, beside live nodes or not.

    Not a Core: a node started here would route, sweep and publish without hearing any
    live connection, and write that over what the live nodes hold (core.StoreCore)."""
    from liaison.services.core import StoreCore

    core = StoreCore(settings)
    await core.open()
    try:
        if job == "migrate":
            return 0  # opening the store migrated it
        if job == "import":
            from liaison.services.directory_import import ReadLimits, import_directory

            path = Path(args.file)
            data = await asyncio.to_thread(path.read_bytes)
            report = await import_directory(
                core.db,
                path.name,
                data,
                args.dry_run,
                sheet=args.sheet,
                limits=ReadLimits.of(settings),
            )
            shown = msgspec.to_builtins(report.shape())
            print(json.dumps(shown, ensure_ascii=False, indent=2))
            if report.errors:
                return 1
            if not args.dry_run:
                await _tell_live_nodes(core)
            return 0
        if job == "purge":
            from liaison.services.retention import purge

            counts = await purge(core.db, settings, core.clock.now())
            print(json.dumps(counts))
            return 0
        if job == "rings":
            from liaison.services.ring_config import (
                RingConfigError,
                apply_ring_config,
                read_document,
            )

            text = await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8")
            try:
                applied = await apply_ring_config(core.db, read_document(json.loads(text)))
            except (RingConfigError, ValueError) as e:
                print(f"ring configuration not applied:\n{e}", file=sys.stderr)
                return 1
            print(msgspec.json.encode(applied).decode())
            await _tell_live_nodes(core)
            return 0
        if job == "create-account":
            from sqlalchemy import func, select

            from liaison.store.models import Person

            async with core.db() as db:
                person_id = await db.scalar(
                    select(Person.id).where(func.lower(Person.email) == args.email.lower())
                )
            if person_id is None:
                print(f"no person with email {args.email} in the directory", file=sys.stderr)
                return 1
            password = os.environ.get("LIAISON_NEW_PASSWORD") or getpass.getpass("Password: ")
            account = await core.accounts.create_account(
                args.username, password, person_id, args.admin
            )
            print(f"created account {account.username}")
        return 0
    finally:
        await core.close()


async def _tell_live_nodes(core: StoreCore) -> None:
    """Live nodes on a shared bus read the directory and the rings again at once (on
    `memory://` no other process hears it: a live node reads them when it next starts)."""
    await core.hub.publish({"k": "directory", "n": core.node_id})


def _port(text: str) -> int:
    port = int(text) if text.isdigit() else -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="liaison", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "run the server"), ("demo", "seed demo data and run")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--host")
        p.add_argument("--port", type=_port, help="0 takes a free port; the ready line names it")
    sub.add_parser("migrate", help="bring the database schema up to date")
    p = sub.add_parser("import", help="import the directory from CSV or XLSX")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    p.add_argument("--sheet", help="the XLSX sheet to read (default: the active visible one)")
    p = sub.add_parser("rings", help="apply a ring and named-contact configuration (JSON)")
    p.add_argument("file")
    p = sub.add_parser("create-account", help="create a login for a directory person")
    p.add_argument("--email", required=True, help="the person's email in the directory")
    p.add_argument("--username", required=True)
    p.add_argument("--admin", action="store_true")
    sub.add_parser(
        "purge", help="delete messages and consultations past their retention time, once"
    )
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2
    overrides: dict[str, object] = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["port"] = args.port
    if args.command == "demo":
        overrides["demo"] = True
    settings = settings.with_overrides(**overrides)
    if args.command in ("serve", "demo"):
        try:
            settings.secret_key()
        except ConfigError as e:
            print(f"configuration error: {e}", file=sys.stderr)
            return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command == "demo":
        # The demo prints its own progress; Alembic's step-by-step lines would bury it.
        logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.root.level))

    if args.command == "serve":
        _serve(settings)
        return 0
    if args.command == "demo":
        asyncio.run(_seed_demo(settings))
        _serve(settings)
        return 0
    return asyncio.run(_one_off(settings, args.command, args))


if __name__ == "__main__":
    sys.exit(main())
