"""Group commit for chat messages: every message waiting when the writer is free is stored
in one transaction, with a handful of set-based statements, by one writer per node.

Why: a transaction per message (a round trip per statement, a commit, a pooled
connection each) made the database the bottleneck long before the network; under load the
senders' transactions queued on SQLite's write lock and ran PostgreSQL's pool dry. One
writer with batches keeps the cost per message near one row insert, and the batch grows
by itself with the load (no timer: whatever arrived while the previous batch was being
written goes in the next). Order within a conversation is the order of `seq`, claimed in
the batch's transaction, and this node publishes each batch in that order before it
writes the next.

Exactly-once is kept as before: a (sender, client id) already stored is answered with
the stored message and `duplicate: true`; the unique constraint settles a resend racing
on another node (the batch is retried, and the resend then finds the stored one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, case, select, tuple_, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from liaison.clock import Clock
from liaison.domain.chat import ChatError
from liaison.protocol import conversations as shapes
from liaison.store.db import UNAVAILABLE, sqlite_writer, writing
from liaison.store.models import Conversation, ConversationMember, Message

log = logging.getLogger(__name__)

# The tables themselves: Core statements, no ORM objects, on this path.
MESSAGES = cast(Table, Message.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)
MEMBERS = cast(Table, ConversationMember.__table__)
# Messages written in one transaction at most; more wait for the next batch.
MAX_BATCH = 500
# A batch that meets a conflict from another node is retried this often.
RETRIES = 5


@dataclass(slots=True)
class Send:
    sender_id: int
    conversation_id: int
    client_id: str
    body: str
    done: asyncio.Future[tuple[shapes.Message, bool]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


Publish = Callable[[list[tuple[shapes.Message, list[int]]]], Awaitable[None]]
Members = Callable[[AsyncConnection, Iterable[int]], Awaitable[dict[int, frozenset[int]]]]


class MessageWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        members: Members,
        publish: Publish,
        queue_size: int,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.members = members
        self.publish = publish
        # Bounded: when the database falls behind, senders wait instead of memory growing.
        self._queue: asyncio.Queue[Send] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        # Batches written, and messages in them (for the benchmark and tests).
        self.batches = 0
        self.written = 0
        # SQLite: one connection in one thread of its own does the writing (from start()).
        self._sync_engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._sync_engine = sqlite_writer(self.engine.url.render_as_string(hide_password=False))
        if self._sync_engine is not None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="message-writer")
        self._task = asyncio.create_task(self._run(), name="message-writer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        while not self._queue.empty():
            self._queue.get_nowait().done.cancel()
        if self._thread is not None and self._sync_engine is not None:
            # Its connection belongs to its thread: closed there.
            await asyncio.get_running_loop().run_in_executor(
                self._thread, self._sync_engine.dispose
            )
            self._thread.shutdown(wait=True)

    async def send(self, request: Send) -> tuple[shapes.Message, bool]:
        """Stores the message (or finds it stored); returns it and whether it was a resend."""
        await self._queue.put(request)
        return await request.done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [s for s in batch if not s.done.cancelled()]
            if not batch:
                continue
            try:
                published = await self._write_with_retries(batch)
                await self.publish(published)
            except Exception as e:
                if isinstance(e, UNAVAILABLE):
                    # The database is down or unreachable: one line, the senders are told.
                    log.warning(
                        "a batch of %d messages could not be stored: %s",
                        len(batch),
                        type(e).__name__,
                    )
                else:
                    log.exception("a batch of %d messages could not be stored", len(batch))
                for request in batch:
                    if not request.done.done():
                        request.done.set_exception(e)

    async def _write_with_retries(
        self, batch: list[Send]
    ) -> list[tuple[shapes.Message, list[int]]]:
        for attempt in range(RETRIES):
            try:
                return await self._write(batch)
            except (IntegrityError, DBAPIError) as e:
                # Another node stored one of these client ids, or a deadlock between two
                # nodes' batches: nothing of this batch was kept; the next try sees why.
                if attempt == RETRIES - 1 or not _retryable(e):
                    raise
        raise AssertionError("unreachable")

    async def _write(self, batch: list[Send]) -> list[tuple[shapes.Message, list[int]]]:
        """One transaction; resolves each request; returns the new messages to publish."""
        now = self.clock.now()
        async with self.engine.connect() as reading:
            # Mostly from memory: read from the database only for conversations not kept.
            members = await self.members(reading, {s.conversation_id for s in batch})
        requests = [(s.sender_id, s.conversation_id, s.client_id, s.body) for s in batch]
        if self._thread is not None:
            # SQLite: the whole batch in the writer's own thread and connection, one hand-off
            # from the event loop instead of one per statement.
            outcome = await asyncio.get_running_loop().run_in_executor(
                self._thread, self._write_in_thread, requests, members, now
            )
        else:
            async with writing(self.engine).begin() as conn:
                outcome = await conn.run_sync(write_batch, requests, members, now)
        results, rows = outcome
        for s, result in zip(batch, results, strict=True):
            if isinstance(result, ChatError):
                s.done.set_exception(result)
            elif not s.done.done():
                s.done.set_result(result)
        self.batches += 1
        self.written += len(rows)
        return [(row, sorted(members[row.conversation_id])) for row in rows]

    def _write_in_thread(
        self,
        requests: list[Request],
        members: dict[int, frozenset[int]],
        now: datetime,
    ) -> tuple[list[Result], list[shapes.Message]]:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as conn:
            return write_batch(conn, requests, members, now)


# (sender, conversation, client id, body)
Request = tuple[int, int, str, str]
Result = tuple[shapes.Message, bool] | ChatError


def write_batch(
    conn: Connection,
    requests: list[Request],
    members: dict[int, frozenset[int]],
    now: datetime,
) -> tuple[list[Result], list[shapes.Message]]:
    """The batch's statements on one connection inside its transaction: what each request
    gets (the stored message and whether it was a resend, or a refusal), and the new rows."""
    stored = _stored(conn, {(r[0], r[2]) for r in requests})
    results: list[Result | None] = []
    new: list[Request] = []
    first: dict[tuple[int, str], Request] = {}
    for request in requests:
        sender, conversation, client_id, _ = request
        key = (sender, client_id)
        earlier = stored.get(key)
        if earlier is not None:
            if earlier.conversation_id != conversation:
                results.append(ChatError("id_reused", "that id was used for another message"))
            else:
                results.append((earlier, True))
        elif sender not in members.get(conversation, frozenset()):
            results.append(ChatError("not_a_member", "you are not a member of that conversation"))
        elif key in first:
            results.append(None)  # the same message twice in one batch: answered below
        else:
            first[key] = request
            new.append(request)
            results.append(None)
    rows = _insert(conn, new, now)
    by_key = {(r.sender_id, r.client_id): r for r in rows}
    final: list[Result] = []
    for request, result in zip(requests, results, strict=True):
        if result is None:
            key = (request[0], request[2])
            final.append((by_key[key], first[key] is not request))
        else:
            final.append(result)
    return final, rows


def message_of(m: Any) -> shapes.Message:
    """A stored message (ORM object or Core row) as clients receive it."""
    return shapes.Message(
        id=m.id,
        conversation_id=m.conversation_id,
        seq=m.seq,
        sender_id=m.sender_id,
        client_id=m.client_id,
        body=m.body,
        created_at=m.created_at.isoformat(),
    )


def _stored(conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], shapes.Message]:
    """Messages already stored under these (sender, client id) pairs."""
    found: dict[tuple[int, str], shapes.Message] = {}
    ordered = sorted(keys)
    # Bounded IN lists: SQLite allows a limited number of variables per statement.
    for start in range(0, len(ordered), 200):
        chunk = ordered[start : start + 200]
        rows = conn.execute(
            select(MESSAGES).where(tuple_(MESSAGES.c.sender_id, MESSAGES.c.client_id).in_(chunk))
        )
        for row in rows:
            found[(row.sender_id, row.client_id)] = message_of(row)
    return found


def _insert(conn: Connection, new: list[Request], now: datetime) -> list[shapes.Message]:
    """Claims the sequence numbers (one UPDATE for every conversation of the batch), stores
    the messages (one multi-row INSERT) and moves each sender's read marker."""
    if not new:
        return []
    counts: dict[int, int] = {}
    for _, conversation, _, _ in new:
        counts[conversation] = counts.get(conversation, 0) + 1
    ids = sorted(counts)
    claimed = conn.execute(
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id.in_(ids))
        .values(last_seq=CONVERSATIONS.c.last_seq + case(counts, value=CONVERSATIONS.c.id, else_=0))
        .returning(CONVERSATIONS.c.id, CONVERSATIONS.c.last_seq)
    )
    next_seq = {cid: last - counts[cid] + 1 for cid, last in claimed}
    values = []
    for sender, conversation, client_id, body in new:
        seq = next_seq[conversation]
        next_seq[conversation] = seq + 1
        values.append(
            {
                "conversation_id": conversation,
                "seq": seq,
                "sender_id": sender,
                "client_id": client_id,
                "body": body,
                "created_at": now,
            }
        )
    result = conn.execute(
        MESSAGES.insert().returning(MESSAGES.c.id, sort_by_parameter_order=True), values
    )
    created_at = now.isoformat()
    rows = [
        shapes.Message(
            id=message_id,
            conversation_id=value["conversation_id"],
            seq=value["seq"],
            sender_id=value["sender_id"],
            client_id=value["client_id"],
            body=value["body"],
            created_at=created_at,
        )
        for (message_id,), value in zip(result.all(), values, strict=True)
    ]
    # The sender has read what they sent: their marker moves to their last message.
    read: dict[tuple[int, int], int] = {}
    for row in rows:
        key = (row.conversation_id, row.sender_id)
        read[key] = max(read.get(key, 0), row.seq)
    conn.execute(
        update(MEMBERS)
        .where(
            MEMBERS.c.conversation_id == bindparam("c"),
            MEMBERS.c.person_id == bindparam("p"),
            MEMBERS.c.last_read_seq < bindparam("s"),
        )
        .values(last_read_seq=bindparam("s")),
        [{"c": c, "p": p, "s": s} for (c, p), s in read.items()],
    )
    return rows


def _retryable(error: Exception) -> bool:
    if isinstance(error, IntegrityError):
        return True
    text = str(getattr(error, "orig", error)).lower()
    return "deadlock" in text or "could not serialize" in text or "database is locked" in text
