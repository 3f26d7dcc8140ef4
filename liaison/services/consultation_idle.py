"""Open consultations that fall quiet: a reminder to their expert, then they close themselves.

The rule is liaison/domain/consultations.py; this is its timer source in the scheduler
(docs/architecture.md, "Time"). The last activity of each open consultation is kept here:
accepting, "keep open", and messages. Messages are not watched as they go by: when a
deadline comes, the last message time is read from the store, so a deadline computed from
an older activity is only ever early, never late, and an early one just moves on.

Every node keeps every open consultation (a consultation opened, kept open or closed on
one node is announced on the bus, `idle`, and each node reads its row again), so the
reminders and the closing go on when the node it was opened on stops. Each open
consultation's deadline is a row of `deadlines` (`consultation <id>`): the node whose own
schedule says it is due claims the row (SKIP LOCKED: no node waits on another) and
handles it in the same transaction, writing the next due time; a node that finds it not
claimable reads when it is next due and waits until then. So each reminder is sent once
and each consultation closed once, by one node, whichever nodes are alive. Closing the
consultation deletes the row.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain.consultations import IdleRule, OpenConsultation
from liaison.protocol import server
from liaison.services.hub import Hub
from liaison.services.scheduler import Scheduler
from liaison.store import repositories as repo
from liaison.store.models import Consultation, Message

log = logging.getLogger(__name__)

# A node that claimed a deadline holds it this long: if it dies before closing the
# consultation, another node claims it then.
CLAIM_LEASE = timedelta(seconds=5)


class ConsultationIdle:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: async_sessionmaker[AsyncSession],
        hub: Hub,
        scheduler: Scheduler,
        close: Callable[[int], Awaitable[None]],
    ) -> None:
        self.clock = clock
        self.db = db
        self.hub = hub
        self.scheduler = scheduler
        self.rule = IdleRule(
            reminder=timedelta(seconds=settings.consultation_reminder_seconds),
            auto_close=timedelta(seconds=settings.consultation_auto_close_seconds),
        )
        self._close = close
        self._open: dict[int, OpenConsultation] = {}
        # Not looked at before this time: another node held the deadline, or handled it.
        self._held: dict[int, datetime] = {}
        # When each is next looked at, earliest first (an entry whose time moved on is
        # dropped when it comes up): the next deadline costs no walk over every open one.
        self._times: list[tuple[datetime, int]] = []
        # Deadlines this node claimed and handled (tests and operators read it).
        self.runs = 0
        scheduler.add("consultation idleness", self._next_deadline, self._on_time)
        hub.on("idle", self._on_notice)

    async def start(self) -> None:
        """Every open consultation, with its last activity as stored: at start, and after
        the bus lost messages (an `idle` notice among them: a consultation opened or
        closed on another node meanwhile)."""
        async with self.db() as db:
            rows = (
                await db.scalars(select(Consultation).where(Consultation.state == "open"))
            ).all()
            self._open = {c.id: await _current(db, c) for c in rows}
        self._times = []
        for consultation_id in self._open:
            self._track(consultation_id)
        self.scheduler.wake()

    def opened(self, consultation_id: int, at: datetime) -> None:
        self._open[consultation_id] = OpenConsultation(consultation_id, at)
        self._track(consultation_id)
        self.scheduler.wake()
        self._announce(consultation_id)

    def closed(self, consultation_id: int) -> None:
        self._open.pop(consultation_id, None)
        self._held.pop(consultation_id, None)
        self._announce(consultation_id)

    def _announce(self, consultation_id: int) -> None:
        """The other nodes read this consultation's row again."""
        self.scheduler.spawn(
            self.hub.publish({"k": "idle", "c": consultation_id}), "consultation notice"
        )

    async def _on_notice(self, message: dict[str, Any]) -> None:
        consultation_id = int(message["c"])
        async with self.db() as db:
            c = await db.get(Consultation, consultation_id)
            if c is None or c.state != "open":
                self._open.pop(consultation_id, None)
                self._held.pop(consultation_id, None)
                return
            self._open[consultation_id] = await _current(db, c)
        # Its activity moved (kept open on another node, say): looked at when it is due.
        self._held.pop(consultation_id, None)
        self._track(consultation_id)
        self.scheduler.wake()

    def closes_at(self, consultation_id: int) -> datetime | None:
        c = self._open.get(consultation_id)
        return None if c is None else self.rule.closes_at(c)

    async def refresh(self, db: AsyncSession, c: Consultation) -> None:
        """After an activity stored in this session (the expert chose "keep open")."""
        self._open[c.id] = await _current(db, c)
        self._track(c.id)
        self.scheduler.wake()
        # Announced before this session commits: a node that reads the row too early
        # holds an earlier deadline, which only moves on when it comes.
        self._announce(c.id)

    def _when(self, consultation_id: int) -> datetime | None:
        """When this node looks at the consultation: when the rule says, unless another
        node holds it, or handled it and said when it is next due."""
        c = self._open.get(consultation_id)
        at = None if c is None else self.rule.next_deadline((c,))
        held = self._held.get(consultation_id)
        return at if at is None or held is None else max(at, held)

    def _track(self, consultation_id: int) -> None:
        """Its activity or hold changed: when it is next looked at."""
        when = self._when(consultation_id)
        if when is not None:
            heapq.heappush(self._times, (when, consultation_id))

    def _next_deadline(self) -> datetime | None:
        while self._times:
            when, consultation_id = self._times[0]
            if self._when(consultation_id) == when:
                return when
            heapq.heappop(self._times)
        return None

    async def _on_time(self, now: datetime) -> None:
        looked_at: dict[int, OpenConsultation] = {}
        while self._times and self._times[0][0] <= now:
            when, consultation_id = heapq.heappop(self._times)
            if self._when(consultation_id) == when:
                looked_at[consultation_id] = self._open[consultation_id]
        due = self.rule.due(looked_at.values(), now)
        for consultation_id in (*due.remind, *due.close):
            try:
                await self._handle(consultation_id, now)
            except Exception:
                log.exception("consultation %s: its deadline failed", consultation_id)
                self._held[consultation_id] = now + CLAIM_LEASE
        for consultation_id in looked_at:
            # Handled, held by another node, or closing: when it is next looked at.
            self._track(consultation_id)

    async def _handle(self, consultation_id: int, now: datetime) -> None:
        """Claims the consultation's deadline row and, if this node got it, does what is
        due: the reminder (sent after the commit) or the closing (a lease: a node that
        dies before it has closed the consultation leaves it to another)."""
        name = deadline_name(consultation_id)
        reminder: tuple[int, server.ConsultationReminder] | None = None
        close = False
        async with self.db.begin() as db:
            if not await repo.claim_deadline(db, name, now, now + CLAIM_LEASE):
                # Another node holds it right now, or handled it: look again when the
                # row says, or after the lease.
                due_at = await repo.deadline_due(db, name)
                self._held[consultation_id] = max(due_at or now, now + CLAIM_LEASE)
                return
            self._held.pop(consultation_id, None)
            self.runs += 1
            c = await db.get(Consultation, consultation_id, with_for_update=True)
            if c is None or c.state != "open":
                self._open.pop(consultation_id, None)
                await repo.drop_deadline(db, name)
                return
            # The deadline came from what was known; a message since moves it on.
            current = self._open[c.id] = await _current(db, c)
            due = self.rule.due((current,), now)
            if due.close:
                close = True
            elif due.remind and c.expert_id is not None:
                c.reminded_at = now
                current = self._open[c.id] = await _current(db, c)
                closes = self.rule.closes_at(current)
                reminder = (
                    c.expert_id,
                    server.ConsultationReminder(
                        consultation_id=c.id,
                        conversation_id=c.conversation_id,
                        idle_since=current.active_at.isoformat(),
                        closes_at=closes.isoformat() if closes else None,
                    ),
                )
            if not close:
                following = self.rule.next_deadline((current,))
                if following is None:
                    await repo.drop_deadline(db, name)
                else:
                    await repo.set_deadline(db, name, following)
        if reminder is not None:
            await self.hub.send([reminder[0]], reminder[1])
        if close:
            await self._close(consultation_id)


def deadline_name(consultation_id: int) -> str:
    """The consultation's row in `deadlines`."""
    return f"consultation {consultation_id}"


async def _current(db: AsyncSession, c: Consultation) -> OpenConsultation:
    """The consultation's last activity: accepted, kept open, or its latest message."""
    times = [t for t in (c.accepted_at, c.kept_open_at) if t is not None]
    if c.conversation_id is not None:
        last = await db.scalar(
            select(func.max(Message.created_at)).where(Message.conversation_id == c.conversation_id)
        )
        if last is not None:
            times.append(last)
    return OpenConsultation(c.id, max(times, default=c.asked_at), c.reminded_at)
