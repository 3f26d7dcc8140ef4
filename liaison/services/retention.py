"""Retention: old chat messages and the consultation log are deleted once their time is up.

- Chat messages (consultation chats included) older than ``message_retention_days``.
  Conversations, members and read markers stay: a conversation's ``last_seq`` is kept,
  so unread counts (``last_seq - last_read_seq``) stay right when old messages go.
- Consultations asked more than ``consultation_retention_days`` ago that are no longer
  waiting or open, and have no callback request still open; their callback requests
  are deleted with them.
- Callback requests closed more than ``consultation_retention_days`` ago.
- The load view's ring legs and ended offers older than ``consultation_retention_days``.
- The audit log's rows older than ``audit_retention_days``, and login throttle counts
  quiet for ``login_lock_seconds`` and not locked (docs/accounts.md).

Deletes are set-based (DELETE ... WHERE), messages in bounded batches so that no single
transaction holds the table for long. ``Purger`` runs this in the server on a schedule;
``liaison purge`` runs it once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, exists, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.services.records import OPEN_CALLBACK_STATES
from liaison.services.scheduler import Scheduler
from liaison.store import repositories as repo
from liaison.store.db import Sessions
from liaison.store.models import (
    AuditEvent,
    CallbackRequest,
    Consultation,
    LoginThrottle,
    Message,
    RingLeg,
    RingOffer,
)

log = logging.getLogger(__name__)

# Messages deleted per transaction; a first purge of a large backlog takes several.
MESSAGE_BATCH = 5000
# Consultations still in play are never deleted, however old.
LIVE_CONSULTATION_STATES = ("waiting", "open")
# The first run after start comes soon, but not in the middle of start-up.
FIRST_RUN_DELAY_SECONDS = 5.0
# The purge's row in `deadlines`.
DEADLINE = "retention purge"


def _rowcount(result: Any) -> int:
    return max(0, cast(CursorResult[Any], result).rowcount or 0)


async def purge(
    db: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> dict[str, int]:
    """Deletes what is past its retention time; returns how many rows of each kind."""
    message_cutoff = now - timedelta(days=settings.message_retention_days)
    consultation_cutoff = now - timedelta(days=settings.consultation_retention_days)

    messages = 0
    while True:
        async with db.begin() as session:
            batch = select(Message.id).where(Message.created_at < message_cutoff)
            result = await session.execute(
                delete(Message).where(Message.id.in_(batch.limit(MESSAGE_BATCH).scalar_subquery()))
            )
            deleted = _rowcount(result)
        messages += deleted
        if deleted < MESSAGE_BATCH:
            break

    open_callback = exists().where(
        CallbackRequest.consultation_id == Consultation.id,
        CallbackRequest.state.in_(OPEN_CALLBACK_STATES),
    )
    expired = select(Consultation.id).where(
        Consultation.asked_at < consultation_cutoff,
        Consultation.state.not_in(LIVE_CONSULTATION_STATES),
        ~open_callback,
    )
    async with db.begin() as session:
        # The callback requests of expired consultations first (foreign key), then the
        # consultations, then closed callback requests past their time on their own.
        callbacks = _rowcount(
            await session.execute(
                delete(CallbackRequest).where(
                    CallbackRequest.consultation_id.in_(expired.scalar_subquery())
                )
            )
        )
        consultations = _rowcount(
            await session.execute(
                delete(Consultation).where(Consultation.id.in_(expired.scalar_subquery()))
            )
        )
        callbacks += _rowcount(
            await session.execute(
                delete(CallbackRequest).where(
                    CallbackRequest.closed_at.is_not(None),
                    CallbackRequest.closed_at < consultation_cutoff,
                    CallbackRequest.state.not_in(OPEN_CALLBACK_STATES),
                )
            )
        )
        # The load view's record ages with the log it summarises; open legs stay.
        legs = _rowcount(
            await session.execute(
                delete(RingLeg).where(
                    RingLeg.entered_at < consultation_cutoff, RingLeg.outcome != "waiting"
                )
            )
        )
        await session.execute(delete(RingOffer).where(RingOffer.ended_at < consultation_cutoff))
    async with db.begin() as session:
        audit = _rowcount(
            await session.execute(
                delete(AuditEvent).where(
                    AuditEvent.at < now - timedelta(days=settings.audit_retention_days)
                )
            )
        )
        # Counts a throttle has forgotten anyway (liaison/domain/throttle.py `current`).
        quiet = now - timedelta(seconds=settings.login_lock_seconds)
        await session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.last_failure_at < quiet,
                LoginThrottle.locked_until.is_(None) | (LoginThrottle.locked_until <= now),
            )
        )
    return {
        "messages": messages,
        "consultations": consultations,
        "callbacks": callbacks,
        "ring_legs": legs,
        "audit_log": audit,
    }


class Purger:
    """Runs ``purge`` from the scheduler every ``purge_interval_seconds``, once in the
    service however many nodes run it (the ``deadlines`` row it claims first).

    The first run comes min(5 s, interval) after start. A failed run is logged and the
    next one comes on schedule.
    """

    def __init__(
        self,
        db: Sessions,
        settings: Settings,
        clock: Clock,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.runs = 0
        self.last_counts: dict[str, int] | None = None
        self._next_run: datetime | None = None
        if scheduler is not None:
            scheduler.add("retention purge", lambda: self._next_run, self._on_time)

    def start(self) -> None:
        first = min(FIRST_RUN_DELAY_SECONDS, self._interval())
        self._next_run = self.clock.now() + timedelta(seconds=first)

    async def _on_time(self, now: datetime) -> None:
        then = now + timedelta(seconds=self._interval())
        self._next_run = then
        # Every node's schedule comes round; the service purges once an interval, on
        # whichever node comes first when it is due (the deadline row).
        try:
            async with self.db.begin() as db:
                claimed = await repo.claim_deadline(db, DEADLINE, now, then)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention purge failed; trying again in %s s", self._interval())
            return
        if claimed:
            await self.run_once()

    async def run_once(self) -> dict[str, int] | None:
        """One purge; the counts, or None when it failed (the error is logged)."""
        try:
            counts = await purge(self.db, self.settings, self.clock.now())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention purge failed; trying again in %s s", self._interval())
            return None
        self.runs += 1
        self.last_counts = counts
        log.info(
            "retention purge: %d messages, %d consultations, %d callback requests, "
            "%d ring legs, %d audit log rows deleted",
            counts["messages"],
            counts["consultations"],
            counts["callbacks"],
            counts["ring_legs"],
            counts["audit_log"],
        )
        return counts

    def _interval(self) -> float:
        return float(max(1, self.settings.purge_interval_seconds))
