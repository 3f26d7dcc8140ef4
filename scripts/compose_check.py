#!/usr/bin/env python3
"""What a browser does through docker-compose.yml's proxy, for scripts/compose-check (which
brings the services up, seeds two accounts and reads the nodes' logs).

  compose_check.py URL USER1 USER2 -- COMPOSE...

URL is the proxy (http://127.0.0.1:8000); the two users' password is in
COMPOSE_CHECK_PASSWORD; COMPOSE... is the compose command for this project (it is used to
stop node1 in the middle). In order: /ready answers 200 with every dependency up; both
users log in (the login form, CSRF token and Origin as a browser sends them) and open four
sockets each, every one welcomed; a message from one reaches every tab of both; node1 is
stopped; each user then has tabs that are gone and tabs that still answer (so each had
tabs on both nodes); new logins and sockets come through, and /ready is 200 again. Prints
one JSON object (the figures), and exits 1 at the first step that fails."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from asyncio.subprocess import PIPE, STDOUT
from typing import Any

import httpx
import websockets

# A login and a page's socket, as the tests make them (run from the repository's root:
# scripts/compose-check).
sys.path.insert(0, os.getcwd())
from tests.test_deployment import answers, logged_in
from tests.test_rings_nodes import frame_of, welcomed_socket

TIMEOUT = 20.0  # seconds for any one answer through the proxy
TABS = 4


class CheckFailed(Exception):
    pass


# A helper of the tests fails with an assertion (a login refused, say).
FAILURES = (
    CheckFailed,
    AssertionError,
    OSError,
    TimeoutError,
    httpx.HTTPError,
    websockets.WebSocketException,
)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(what)


async def ready(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as http:
        response = await http.get("/ready")
    report: dict[str, Any] = response.json()
    check(response.status_code == 200, f"/ready answered {response.status_code}: {report}")
    down = [name for name, c in report["checks"].items() if c["status"] != "up"]
    check(not down, f"/ready: not up: {down}")
    return report


async def scenario(url: str, users: list[str], password: str, compose: list[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    figures["ready"] = (await ready(url))["checks"]

    started = time.monotonic()
    sessions = [await logged_in(url, user, password) for user in users]
    figures["logins_s"] = round(time.monotonic() - started, 2)
    started = time.monotonic()
    tabs = [[await welcomed_socket(url, http.cookies) for _ in range(TABS)] for http in sessions]
    figures["sockets_welcomed"] = sum(map(len, tabs))
    figures["sockets_s"] = round(time.monotonic() - started, 2)

    first, second = sessions
    second_id = (await second.get("/api/me")).json()["person"]["id"]
    headers = {"X-CSRF-Token": first.cookies["liaison_csrf"], "Origin": url}
    made = await first.post("/api/conversations", json={"person_id": second_id}, headers=headers)
    check(made.status_code == 201, f"conversation: {made.status_code} {made.text}")
    body = "Kuuluuko kaikille välilehdille?"
    message = {"type": "send", "id": "c1", "conversation_id": made.json()["id"], "body": body}
    started = time.monotonic()
    await tabs[0][0].send(json.dumps(message))
    for ws in tabs[1] + tabs[0][1:]:
        frame = await frame_of(ws, "message")
        check(frame["message"]["body"] == body, "a tab got another message")
    figures["message_to_all_tabs_s"] = round(time.monotonic() - started, 2)

    started = time.monotonic()
    stop = await asyncio.create_subprocess_exec(
        *compose, "stop", "--timeout", "10", "node1", stdout=PIPE, stderr=STDOUT
    )
    output, _ = await asyncio.wait_for(stop.communicate(), 60)
    check(stop.returncode == 0, f"stop node1: {output.decode()}")
    figures["stop_node1_s"] = round(time.monotonic() - started, 2)

    alive = [[await answers(ws) for ws in person] for person in tabs]
    figures["tabs_alive_after_stop"] = alive
    for user, person in zip(users, alive, strict=True):
        check(True in person and False in person, f"{user}'s tabs were not on both nodes: {person}")

    # The proxy still sends some of these to node1 first (each of its workers finds node1
    # gone by itself): the slowest shows what that costs one request.
    started = time.monotonic()
    slowest = 0.0
    again = []
    for user in users:
        one = time.monotonic()
        again.append(await logged_in(url, user, password))
        slowest = max(slowest, time.monotonic() - one)
    new_tabs = []
    for http in again:
        for _ in range(3):
            one = time.monotonic()
            new_tabs.append(await welcomed_socket(url, http.cookies))
            slowest = max(slowest, time.monotonic() - one)
    figures["after_stop_logins_and_6_sockets_s"] = round(time.monotonic() - started, 2)
    figures["after_stop_slowest_login_or_socket_s"] = round(slowest, 2)
    figures["after_stop_ready"] = (await ready(url))["checks"]

    for ws in [ws for person in tabs for ws in person] + new_tabs:
        await ws.close()
    for http in sessions + again:
        await http.aclose()
    return figures


def main() -> int:
    if "--" not in sys.argv or sys.argv.index("--") != 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, *users = sys.argv[1:4]
    compose = sys.argv[5:]
    password = os.environ["COMPOSE_CHECK_PASSWORD"]
    try:
        figures = asyncio.run(scenario(url, users, password, compose))
    except FAILURES as e:
        print(json.dumps({"failed": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
