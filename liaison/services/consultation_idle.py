"""Open consultations that fall quiet: a reminder to their expert, then they close themselves.

The rule is liaison/domain/consultations.py; this is its timer source in the scheduler
(docs/architecture.md, "Time"). The last activity of each open consultation is kept here:
accepting, "keep open", and messages. Messages are not watched as they go by: when a
deadline comes, the last message time is read from the store, so a deadline computed from
an older activity is only ever early, never late, and an early one just moves on.

Every node keeps every open consultation (a consultation opened, kept open or closed on
one node is announced on the bus, `idle`, and each node reads its row again), so the
reminders and the closing go on when the node it was opened on stops. Each node fires
the deadlines it holds; the rows are locked while they are handled, and what the first
node wrote (the reminder's time, the closing) tells the others there is nothing to do:
each reminder is sent once, each consultation closed once.
"""

from __future__ import annotations

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
from liaison.store.models import Consultation, Message

log = logging.getLogger(__name__)


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
        self.scheduler.wake()

    def opened(self, consultation_id: int, at: datetime) -> None:
        self._open[consultation_id] = OpenConsultation(consultation_id, at)
        self.scheduler.wake()
        self._announce(consultation_id)

    def closed(self, consultation_id: int) -> None:
        self._open.pop(consultation_id, None)
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
                return
            self._open[consultation_id] = await _current(db, c)
        self.scheduler.wake()

    def closes_at(self, consultation_id: int) -> datetime | None:
        c = self._open.get(consultation_id)
        return None if c is None else self.rule.closes_at(c)

    async def refresh(self, db: AsyncSession, c: Consultation) -> None:
        """After an activity stored in this session (the expert chose "keep open")."""
        self._open[c.id] = await _current(db, c)
        self.scheduler.wake()
        # Announced before this session commits: a node that reads the row too early
        # holds an earlier deadline, which only moves on when it comes.
        self._announce(c.id)

    def _next_deadline(self) -> datetime | None:
        return self.rule.next_deadline(self._open.values())

    async def _on_time(self, now: datetime) -> None:
        due = self.rule.due(self._open.values(), now)
        if not due.remind and not due.close:
            return
        reminders: list[tuple[int, server.ConsultationReminder]] = []
        async with self.db.begin() as db:
            for consultation_id in (*due.remind, *due.close):
                # Locked until this commits: another node handling the same deadline
                # waits, then reads what this one wrote (reminded, or closing).
                c = await db.get(Consultation, consultation_id, with_for_update=True)
                if c is None or c.state != "open":
                    self._open.pop(consultation_id, None)
                    continue
                # The deadline came from what was known; a message since moves it on.
                self._open[c.id] = await _current(db, c)
            due = self.rule.due(
                [self._open[i] for i in (*due.remind, *due.close) if i in self._open], now
            )
            for consultation_id in due.remind:
                c = await db.get(Consultation, consultation_id)
                if c is None or c.expert_id is None:
                    continue
                c.reminded_at = now
                current = self._open[consultation_id] = await _current(db, c)
                closes = self.rule.closes_at(current)
                reminders.append(
                    (
                        c.expert_id,
                        server.ConsultationReminder(
                            consultation_id=c.id,
                            conversation_id=c.conversation_id,
                            idle_since=current.active_at.isoformat(),
                            closes_at=closes.isoformat() if closes else None,
                        ),
                    )
                )
        for expert_id, frame in reminders:
            await self.hub.send([expert_id], frame)
        for consultation_id in due.close:
            await self._close(consultation_id)


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
