"""docker-compose.yml's production shape without a container engine: the reverse proxy's
configuration exactly as the file mounts it (deploy/nginx.conf; nginx, Debian's, on
loopback), in front of two `liaison serve` processes on one PostgreSQL and one Redis, with
the nodes' settings from the compose file. Only the addresses change (the services' names
become loopback ports). What a browser does through it: log in, open sockets (the proxy
spreads them over both nodes), write to someone whose tabs are on either node; then a node
is killed and new sockets still come through.

The images (`build: .`, postgres, redis, nginx) are not built or pulled here: CI has no
container engine. Everything they would run is what this test runs; scripts/compose-check
runs the compose file itself where Docker is (with local stand-ins for the images)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
import yaml

from liaison.config import Settings
from tests.conftest import (
    PASSWORD,
    SAFETY_SECONDS,
    TEST_DATABASE_URL,
    Databases,
    free_port,
)
from tests.test_rings_nodes import frame_of, serve_process, welcomed_socket

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
# The proxy's site, as the compose file mounts it into the nginx container.
PROXY_MOUNT = "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def proxy_configuration() -> str:
    """The proxy's site configuration: the file the compose file's proxy mounts."""
    assert PROXY_MOUNT in compose()["services"]["proxy"]["volumes"]
    return (ROOT / PROXY_MOUNT.split(":")[0]).read_text()


def node_settings() -> dict[str, str]:
    """The nodes' environment from the file, less what names its containers (the
    database, the bus, the address) and the secret (the test's own)."""
    environment: dict[str, str] = compose()["x-liaison"]["environment"]
    skip = {"LIAISON_DATABASE_URL", "LIAISON_BUS_URL", "LIAISON_HOST", "LIAISON_PORT"}
    return {
        key: str(value)
        for key, value in environment.items()
        if key not in skip and key != "LIAISON_PSEUDONYM_SECRET"
    }


def proxy_site(node_ports: list[int], listen: int) -> str:
    """The proxy's site configuration from the file, with loopback addresses."""
    site = proxy_configuration()
    for number, port in enumerate(node_ports, 1):
        site, found = re.subn(rf"\bnode{number}:8000\b", f"127.0.0.1:{port}", site)
        assert found == 1, f"node{number} is not in the proxy's upstream"
    site, found = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen};", site)
    assert found == 1
    return site


@contextlib.asynccontextmanager
async def nginx(site: str, directory: Path) -> AsyncIterator[None]:
    """nginx in the foreground with this site; returns once it listens."""
    (directory / "site.conf").write_text(site)
    temp = " ".join(
        f"{kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (directory / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        "error_log stderr notice;\n"
        "events { worker_connections 256; }\n"
        f"http {{ access_log off; {temp} include {directory / 'site.conf'}; }}\n"
    )
    args = ["-e", "stderr", "-p", str(directory), "-c", str(directory / "nginx.conf")]
    check = await asyncio.create_subprocess_exec(NGINX, "-t", *args, stderr=asyncio.subprocess.PIPE)
    _, problems = await check.communicate()
    assert check.returncode == 0, problems.decode()
    process = await asyncio.create_subprocess_exec(NGINX, *args, stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    try:
        # Listening sockets are open before the workers start.
        while b"start worker process" not in (
            line := await asyncio.wait_for(process.stderr.readline(), SAFETY_SECONDS)
        ):
            assert line, "nginx ended before it started its workers"
        yield
    finally:
        process.terminate()
        await process.wait()


async def logged_in(url: str, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """A browser's session through the proxy: the login form, as a person submits it."""
    http = httpx.AsyncClient(base_url=url, timeout=SAFETY_SECONDS)
    await http.get("/login")
    token = http.cookies["liaison_csrf"]
    response = await http.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers={"Origin": url},
    )
    assert response.status_code == 303, response.text
    return http


async def answers(ws: websockets.ClientConnection) -> bool:
    """Whether the node behind this socket still answers a heartbeat (False: closed)."""
    try:
        await ws.send(json.dumps({"type": "heartbeat", "ref": "alive?"}))
        await frame_of(ws, "heartbeat_ack")
    except websockets.ConnectionClosed:
        return False
    return True


def test_the_proxy_keeps_sockets_open_longer_than_a_client_may_be_silent() -> None:
    """A socket the proxy cuts while the client is still within its heartbeat timeout
    would show its person offline and back for nothing."""
    site = proxy_configuration()
    timeout = re.search(r"location /ws \{[^}]*proxy_read_timeout (\d+)s;", site)
    assert timeout is not None
    assert int(timeout.group(1)) > Settings().heartbeat_timeout_seconds


@pytest.mark.long
@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="the production shape is PostgreSQL (the PostgreSQL pass)"
)
async def test_two_nodes_behind_the_compose_proxy_are_one_service(
    databases: Databases, redis_url: str, tmp_path: Path
) -> None:
    if not os.access(NGINX, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs nginx (scripts/test installs Debian's)")
        pytest.skip("nginx is not installed (scripts/test installs Debian's)")
    database_url = await databases.copy()
    settings = node_settings()
    try:
        async with (
            contextlib.AsyncExitStack() as first,
            serve_process(database_url, redis_url, **settings) as second_url,
        ):
            first_url = await first.enter_async_context(
                serve_process(database_url, redis_url, **settings)
            )
            ports = [int(u.rsplit(":", 1)[1]) for u in (first_url, second_url)]
            listen = free_port()
            url = f"http://127.0.0.1:{listen}"
            async with nginx(proxy_site(ports, listen), tmp_path):
                aino, bertil = await logged_in(url, "aino"), await logged_in(url, "bertil")
                # Round robin: four tabs each, so each person has tabs on both nodes.
                aino_tabs = [await welcomed_socket(url, aino.cookies) for _ in range(4)]
                bertil_tabs = [await welcomed_socket(url, bertil.cookies) for _ in range(4)]
                bertil_id = (await bertil.get("/api/me")).json()["person"]["id"]
                made = await aino.post(
                    "/api/conversations",
                    json={"person_id": bertil_id},
                    headers={"X-CSRF-Token": aino.cookies["liaison_csrf"], "Origin": url},
                )
                assert made.status_code == 201, made.text
                conversation_id = made.json()["id"]
                await aino_tabs[0].send(
                    json.dumps(
                        {
                            "type": "send",
                            "id": "p1",
                            "conversation_id": conversation_id,
                            "body": "Kuuluuko?",
                        }
                    )
                )
                for ws in bertil_tabs + aino_tabs[1:]:
                    message = await frame_of(ws, "message")
                    assert message["message"]["body"] == "Kuuluuko?"

                # The first node is killed: its tabs are closed, the others live on (so
                # each person did have tabs on both), and new sockets go to the other.
                await first.aclose()
                for tabs in (aino_tabs, bertil_tabs):
                    alive = [await answers(ws) for ws in tabs]
                    assert True in alive and False in alive, alive
                for _ in range(3):
                    again = await welcomed_socket(url, bertil.cookies)
                    await again.close()
                for ws in aino_tabs + bertil_tabs:
                    await ws.close()
                await aino.aclose()
                await bertil.aclose()
    finally:
        await databases.drop(database_url)
