"""One-off commands beside a live node: each changes what it is asked to and nothing else.

A live server holds an expert signed in to a ring with an offer ringing; every `liaison`
one-off then runs as its own process on the same database. None may touch the router
state, the ring records, presence or anything else the live node owns (before they were
one-offs, each started a whole node that saw the expert offline, withdrew the offer and
saved its own router state over the live one)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import DIRECTORY_CSV, SAFETY_SECONDS, Server
from tests.test_rings import config, signed_in, with_rings

# What the live node owns: no one-off may change a row of these.
LIVE_TABLES = (
    "ring_routing",
    "ring_states",
    "ring_member_states",
    "ring_questions",
    "ring_offers",
    "ring_legs",
    "consultations",
    "callback_requests",
    "presence_settings",
    "sessions",
    "conversations",
    "conversation_members",
    "messages",
)
NEW_PERSON = "frida@kela.example"


async def live_state(server: Server) -> dict[str, list[tuple[Any, ...]]]:
    # The table names are the constants above.
    selects = {table: text(f"SELECT * FROM {table} ORDER BY 1") for table in LIVE_TABLES}  # noqa: S608
    async with server.core.db() as db:
        return {table: [tuple(row) for row in await db.execute(q)] for table, q in selects.items()}


async def liaison(server: Server, *args: str, **env: str) -> str:
    """`liaison <args>` in a process of its own on the server's database; its output."""
    environment = {
        **os.environ,
        "LIAISON_DATABASE_URL": server.core.settings.database_url,
        # The lowest argon2 cost, as the test servers have (create-account hashes).
        "LIAISON_PASSWORD_TIME_COST": "1",
        "LIAISON_PASSWORD_MEMORY_KIB": "8",
        "LIAISON_PASSWORD_PARALLELISM": "1",
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "liaison",
        *args,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # Bounded only so that a hung process fails the test instead of hanging it.
    out, err = await asyncio.wait_for(process.communicate(), SAFETY_SECONDS * 5)
    assert process.returncode == 0, f"liaison {args[0]}: {err.decode()}"
    return out.decode()


@pytest.mark.long
async def test_one_off_commands_leave_a_live_node_as_it_is(server: Server, tmp_path: Path) -> None:
    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Tulorajat?", "ref": 1})
    question_id = (await aino.expect("question_status", ref=1))["question"]["question_id"]
    await bertil.expect("offer", question_id=question_id)
    await server.settle()
    before = await live_state(server)
    assert before["ring_questions"] and before["ring_member_states"] and not before["ring_offers"]

    directory = tmp_path / "directory.csv"
    directory.write_text(
        DIRECTORY_CSV + f"{NEW_PERSON};Frida;Uusi;Etuuskäsittelijä;Kela;kela;;;;;;fi\n",
        encoding="utf-8",
    )
    rings = tmp_path / "rings.json"
    rings.write_text(json.dumps(config()), encoding="utf-8")
    one_offs = (
        ("migrate",),
        ("import", str(directory), "--dry-run"),
        ("import", str(directory)),
        ("rings", str(rings)),
        ("create-account", "--email", NEW_PERSON, "--username", "frida"),
        ("purge",),
    )
    for args in one_offs:
        await liaison(server, *args, LIAISON_NEW_PASSWORD="frida-password-1")
        assert await live_state(server) == before, f"liaison {' '.join(args)} changed them"
    # What they were asked to do, they did.
    async with server.core.db() as db:
        account = await db.scalar(text("SELECT username FROM accounts WHERE username = 'frida'"))
    assert account == "frida"

    # The expert is still available and signed in, and the offer still live: it is taken.
    watcher = await server.client("eeva")
    person = (await watcher.api("GET", f"/api/people/{server.people['bertil']}")).json()
    assert person["presence"]["status"] == "available"
    mine = (await (await server.client("bertil")).api("GET", "/api/rings")).json()["rings"]
    assert next(r for r in mine if r["id"] == "housing")["signed_in"] is True
    await bertil.send({"type": "accept", "question_id": question_id})
    accepted = await bertil.expect("accepted")
    assert accepted["consultation"]["expert_id"] == server.people["bertil"]
