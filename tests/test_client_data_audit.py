"""No personal identity code in clear anywhere: run a scenario with codes in every
place a user can type one, then search the database files and the logs for them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_DATABASE_URL, Server
from tests.test_chat import direct
from tests.test_rings import signed_in, valid_code, with_rings


def forms(code: str) -> list[bytes]:
    return [code.encode(), code.lower().encode(), code.encode("utf-16-le")]


async def test_codes_never_stored_or_logged_in_clear(
    server: Server, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO)
    # uvicorn's loggers do not propagate to the root: listen to them directly.
    for name in ("uvicorn.access", "uvicorn.error"):
        caplog.set_level(logging.INFO, logger=name)
        logging.getLogger(name).addHandler(caplog.handler)
    codes = [
        valid_code("150385", "-", "234"),
        valid_code("010203", "A", "456"),
        valid_code("311299", "+", "789"),
    ]
    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    aino_client = await server.client("aino")
    aino = await aino_client.socket()
    # 1. A ring question with the code as client and in the question text.
    await aino.send(
        {
            "type": "ask",
            "ring_id": "housing",
            "question": f"Asiakas {codes[0]} kysyy",
            "client_code": codes[0],
            "ref": 1,
        }
    )
    question_id = (await aino.expect("question_status", ref=1))["question"]["question_id"]
    await bertil.expect("offer", question_id=question_id)
    await bertil.send({"type": "accept", "question_id": question_id})
    consultation = (await bertil.expect("accepted"))["consultation"]
    # 2. Chat, inside the consultation and directly.
    await aino.send(
        {
            "type": "send",
            "id": "a1",
            "conversation_id": consultation["conversation_id"],
            "body": f"Hetu {codes[1]}",
        }
    )
    ack = await aino.expect("ack", id="a1")
    assert ack["redacted"] == 1
    conversation_id = await direct(aino_client, server.people["cecilia"])
    await aino.send(
        {"type": "send", "id": "a2", "conversation_id": conversation_id, "body": codes[2].lower()}
    )
    await aino.expect("ack", id="a2")
    # 3. A callback request with a code in the note and as client.
    await aino.send(
        {
            "type": "callback_create",
            "owner_ring_id": "housing",
            "note": f"Soita: {codes[2]}",
            "client_code": codes[2],
        }
    )
    await aino.expect("callback_created")
    # 4. A lookup, a search and a bad frame carrying codes.
    lookup = await aino_client.api(
        "POST", "/api/consultations/lookup", json={"client_code": codes[0]}
    )
    assert lookup.json()["client_ref"] == consultation["client_ref"]
    assert [c["id"] for c in lookup.json()["consultations"]] == [consultation["id"]]
    await aino_client.api("GET", f"/api/people?q={codes[1]}")
    await aino.send({"type": codes[0]})
    await aino.expect("error")
    await bertil.send(
        {
            "type": "close_consultation",
            "consultation_id": consultation["id"],
            "outcome": "answered",
            "topic": "statement",
            "legal_basis": "client_consent",
        }
    )
    await bertil.expect("consultation_closed")
    export = await aino_client.api("GET", "/api/consultations/export.csv")
    assert consultation["client_ref"] in export.text
    await server.settle()

    # The server's log lines; the test's own HTTP client logs its URLs, which it chose.
    server_log = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ).lower()
    assert "/api/people?q=[identity code]" in server_log  # the access log was written, redacted
    leaks: list[str] = []
    for code in codes:
        if code in export.text or code in lookup.text:
            leaks.append(f"{code} in an HTTP answer")
        if code.lower() in server_log:
            leaks.append(f"{code} in the server's logs")
    if TEST_DATABASE_URL:
        leaks += await postgres_leaks(server, codes)
    else:
        database = Path(server.core.settings.database_url.split("///", 1)[1])
        for path in database.parent.glob(database.name + "*"):  # the file, -wal and -shm
            data = path.read_bytes()
            leaks += [
                f"{code} in {path.name}" for code in codes for form in forms(code) if form in data
            ]
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).removeHandler(caplog.handler)
    assert not leaks, leaks
    assert any("AR-" in line for line in [consultation["client_ref"]])


async def postgres_leaks(server: Server, codes: list[str]) -> list[str]:
    """Every text column of every table in the test's schema, searched."""
    found: list[str] = []
    async with server.core.engine.connect() as conn:
        tables = (
            await conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        ).all()
        for (table,) in tables:
            query = f'SELECT * FROM "{table}"'  # noqa: S608 - names from pg_tables
            rows: Any = (await conn.exec_driver_sql(query)).all()
            text = repr(rows).lower()
            found += [f"{code} in {table}" for code in codes if code.lower() in text]
    return found
