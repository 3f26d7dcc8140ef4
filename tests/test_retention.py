"""Retention: old messages and the consultation log are purged, in the server and by the CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from liaison.services import retention
from liaison.services.retention import purge
from liaison.store.models import CallbackRequest, Consultation, Message, RingLeg, RingOffer
from tests.conftest import TEST_DATABASE_URL, TEST_SECRET, Client, Server, Socket
from tests.test_chat import direct

ROOT = Path(__file__).resolve().parent.parent


async def send(sock: Socket, conversation_id: int, client_id: str, body: str = "x") -> int:
    await sock.send(
        {"type": "send", "id": client_id, "conversation_id": conversation_id, "body": body}
    )
    seq: int = (await sock.expect("ack", id=client_id))["message"]["seq"]
    return seq


async def age_messages(server: Server, conversation_id: int, upto_seq: int, days: float) -> None:
    """Moves the conversation's messages up to `upto_seq` back in time."""
    when = server.core.clock.now() - timedelta(days=days)
    async with server.core.db.begin() as db:
        await db.execute(
            update(Message)
            .where(Message.conversation_id == conversation_id, Message.seq <= upto_seq)
            .values(created_at=when)
        )


async def message_count(server: Server, conversation_id: int) -> int:
    async with server.core.db() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id == conversation_id)
        )
    return int(count or 0)


async def summary_of(client: Client, conversation_id: int) -> dict[str, Any]:
    conversations = (await client.api("GET", "/api/conversations")).json()["conversations"]
    found: dict[str, Any] = next(c for c in conversations if c["id"] == conversation_id)
    return found


async def test_purge_deletes_old_messages_and_keeps_conversations_and_unread(
    server_factory: Any,
) -> None:
    async with server_factory(message_retention_days=1) as srv:
        aino, bertil = await srv.client("aino"), await srv.client("bertil")
        a = await aino.socket()
        conversation_id = await direct(aino, srv.people["bertil"])
        for i in range(5):
            await send(a, conversation_id, f"m{i}", f"viesti {i}")
        await age_messages(srv, conversation_id, 3, days=2)
        before = await summary_of(bertil, conversation_id)
        assert before["unread"] == 5

        counts = await purge(srv.core.db, srv.core.settings, srv.core.clock.now())

        assert counts == {
            "messages": 3,
            "consultations": 0,
            "callbacks": 0,
            "ring_legs": 0,
            "audit_log": 0,
        }
        url = f"/api/conversations/{conversation_id}/messages"
        history = (await bertil.api("GET", url)).json()["messages"]
        assert [m["seq"] for m in history] == [4, 5]
        assert [m["body"] for m in history] == ["viesti 3", "viesti 4"]
        # The conversation stays, and so do the sequence and the read markers.
        after = await summary_of(bertil, conversation_id)
        assert after["last_seq"] == 5 and after["unread"] == 5
        assert after["last_message"]["seq"] == 5
        assert (await summary_of(aino, conversation_id))["unread"] == 0
        # New messages go on from the same sequence.
        assert await send(a, conversation_id, "m5") == 6
        assert (await summary_of(bertil, conversation_id))["unread"] == 6
        # Nothing more to do the second time.
        again = await purge(srv.core.db, srv.core.settings, srv.core.clock.now())
        assert again == {
            "messages": 0,
            "consultations": 0,
            "callbacks": 0,
            "ring_legs": 0,
            "audit_log": 0,
        }


async def test_a_conversation_whose_messages_all_expired_still_works(server_factory: Any) -> None:
    async with server_factory(message_retention_days=1) as srv:
        aino, bertil = await srv.client("aino"), await srv.client("bertil")
        a, b = await aino.socket(), await bertil.socket()
        conversation_id = await direct(aino, srv.people["bertil"])
        for i in range(3):
            await send(a, conversation_id, f"e{i}")
        await b.send({"type": "read", "conversation_id": conversation_id, "seq": 2})
        await a.expect("read", person_id=srv.people["bertil"])
        await age_messages(srv, conversation_id, 3, days=1.5)
        counts = await purge(srv.core.db, srv.core.settings, srv.core.clock.now())
        assert counts["messages"] == 3
        summary = await summary_of(bertil, conversation_id)
        assert summary["last_message"] is None
        assert summary["last_seq"] == 3 and summary["unread"] == 1
        url = f"/api/conversations/{conversation_id}/messages"
        assert (await bertil.api("GET", url)).json()["messages"] == []
        # A reconnect resuming from the start gets nothing, not an error.
        b2 = await bertil.socket(resume={str(conversation_id): 0})
        assert b2.welcome["missed"] == []


def _consultation(qid: str, asker: int, state: str, asked_at: datetime) -> Consultation:
    closed = state not in ("waiting", "open")
    return Consultation(
        question_id=qid,
        kind="ring",
        asker_id=asker,
        question="",
        state=state,
        asked_at=asked_at,
        closed_at=asked_at + timedelta(minutes=30) if closed else None,
        missed_offers=0,
    )


def _callback(
    consultation_id: int | None,
    creator: int,
    state: str,
    created_at: datetime,
    closed_at: datetime | None,
) -> CallbackRequest:
    return CallbackRequest(
        consultation_id=consultation_id,
        created_by=creator,
        owner_person_id=creator,
        note="",
        state=state,
        due_at=created_at + timedelta(hours=1),
        created_at=created_at,
        closed_at=closed_at,
    )


def _leg(question_id: str, outcome: str, entered_at: datetime) -> RingLeg:
    return RingLeg(
        question_id=question_id,
        ring_id="housing",
        asked_at=entered_at,
        entered_at=entered_at,
        outcome=outcome,
        wait_seconds=None if outcome == "waiting" else 10.0,
        missed_offers=0,
        declined_offers=0,
        target_answer_seconds=60,
    )


def _offer(question_id: str, person_id: int, at: datetime) -> RingOffer:
    return RingOffer(
        question_id=question_id,
        ring_id="housing",
        person_id=person_id,
        offered_at=at,
        ended_at=at,
        outcome="accepted",
    )


async def test_purge_deletes_old_closed_consultations_and_callbacks(server_factory: Any) -> None:
    async with server_factory(consultation_retention_days=30) as srv:
        core = srv.core
        now = core.clock.now()
        old, recent = now - timedelta(days=40), now - timedelta(days=5)
        aino = srv.people["aino"]
        async with core.db.begin() as db:
            rows = {
                "old_closed": _consultation("q-old-closed", aino, "closed", old),
                "old_cancelled": _consultation("q-old-cancelled", aino, "cancelled", old),
                "old_waiting": _consultation("q-old-waiting", aino, "waiting", old),
                "old_open": _consultation("q-old-open", aino, "open", old),
                # Timed out, but its callback request is still open: kept.
                "old_pending_callback": _consultation("q-old-cb", aino, "timed_out", old),
                "recent_closed": _consultation("q-recent", aino, "closed", recent),
            }
            db.add_all(rows.values())
            await db.flush()
            ids = {name: c.id for name, c in rows.items()}
            callbacks = {
                "of_old_closed": _callback(ids["old_closed"], aino, "done", old, recent),
                "still_open": _callback(ids["old_pending_callback"], aino, "open", old, None),
                "old_done_alone": _callback(None, aino, "could_not_reach", old, old),
                "recent_done": _callback(ids["recent_closed"], aino, "done", recent, recent),
                "old_claimed": _callback(None, aino, "claimed", old, None),
            }
            db.add_all(callbacks.values())
            await db.flush()
            callback_ids = {name: c.id for name, c in callbacks.items()}
            legs = {
                "old_answered": _leg("q-old-closed", "answered", old),
                "old_waiting": _leg("q-old-waiting", "waiting", old),
                "recent": _leg("q-recent", "answered", recent),
            }
            db.add_all(legs.values())
            db.add_all([_offer("q-old-closed", aino, old), _offer("q-recent", aino, recent)])
            await db.flush()
            leg_ids = {name: leg.id for name, leg in legs.items()}

        counts = await purge(core.db, core.settings, core.clock.now())

        assert counts == {
            "messages": 0,
            "consultations": 2,
            "callbacks": 2,
            "ring_legs": 1,
            "audit_log": 0,
        }
        async with core.db() as db:
            kept_legs = set((await db.scalars(select(RingLeg.id))).all())
            kept_offers = (await db.scalars(select(RingOffer.question_id))).all()
        # A question still waiting keeps its leg, however old: the live view counts it.
        assert kept_legs == {leg_ids["old_waiting"], leg_ids["recent"]}
        assert kept_offers == ["q-recent"]
        async with core.db() as db:
            kept = set((await db.scalars(select(Consultation.id))).all())
            kept_callbacks = set((await db.scalars(select(CallbackRequest.id))).all())
        assert kept == {
            ids[n] for n in ("old_waiting", "old_open", "old_pending_callback", "recent_closed")
        }
        assert kept_callbacks == {
            callback_ids[n] for n in ("still_open", "recent_done", "old_claimed")
        }
        again = await purge(core.db, core.settings, core.clock.now())
        assert again == {
            "messages": 0,
            "consultations": 0,
            "callbacks": 0,
            "ring_legs": 0,
            "audit_log": 0,
        }


async def test_purger_runs_on_its_own_schedule(server_factory: Any) -> None:
    async with server_factory(purge_interval_seconds=60, message_retention_days=1) as srv:
        aino = await srv.client("aino")
        a = await aino.socket()
        conversation_id = await direct(aino, srv.people["bertil"])
        await send(a, conversation_id, "p1")
        await send(a, conversation_id, "p2")
        await age_messages(srv, conversation_id, 1, days=2)
        # The server's own purger: first run min(5 s, interval) after start, then every
        # interval.
        await srv.advance(4)
        assert await message_count(srv, conversation_id) == 2
        await srv.advance(1)
        assert await message_count(srv, conversation_id) == 1
        await age_messages(srv, conversation_id, 2, days=2)
        await srv.advance(59)
        assert await message_count(srv, conversation_id) == 1
        await srv.advance(1)
        assert await message_count(srv, conversation_id) == 0
        assert srv.core.purger.runs == 2


async def test_a_failing_purge_does_not_stop_the_schedule(
    server_factory: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    async with server_factory(purge_interval_seconds=60) as srv:
        calls = 0
        real_purge = retention.purge

        async def flaky(*args: Any) -> dict[str, int]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("database went away")
            return await real_purge(*args)

        monkeypatch.setattr(retention, "purge", flaky)
        purger = srv.core.purger
        with caplog.at_level(logging.ERROR):
            await srv.advance(5)
        assert calls == 1 and purger.runs == 0
        assert "retention purge failed" in caplog.text
        await srv.advance(60)
        assert calls == 2 and purger.runs == 1
        assert purger.last_counts == {
            "messages": 0,
            "consultations": 0,
            "callbacks": 0,
            "ring_legs": 0,
            "audit_log": 0,
        }


async def purge_command(env: dict[str, str]) -> Any:
    """Runs `liaison purge` as an operator would and returns the counts it prints."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "liaison",
        "purge",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout)


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the CLI test prepares a SQLite file")
async def test_cli_purge_prints_the_counts(server_factory: Any) -> None:
    async with server_factory() as srv:
        database_url = srv.core.settings.database_url
        aino = await srv.client("aino")
        a = await aino.socket()
        conversation_id = await direct(aino, srv.people["bertil"])
        for i in range(4):
            await send(a, conversation_id, f"c{i}")
        await age_messages(srv, conversation_id, 3, days=10)
        await a.close()
        await aino.close()

    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    env.update(
        LIAISON_DATABASE_URL=database_url,
        LIAISON_MESSAGE_RETENTION_DAYS="7",
        LIAISON_PSEUDONYM_SECRET=TEST_SECRET,
        LIAISON_LOG_LEVEL="warning",
    )
    assert await purge_command(env) == {
        "messages": 3,
        "consultations": 0,
        "callbacks": 0,
        "ring_legs": 0,
        "audit_log": 0,
    }

    # Run again against the same file: the rest is kept, nothing more to delete.
    assert await purge_command(env) == {
        "messages": 0,
        "consultations": 0,
        "callbacks": 0,
        "ring_legs": 0,
        "audit_log": 0,
    }
    async with server_factory(database_url=database_url) as srv:
        assert await message_count(srv, conversation_id) == 1
