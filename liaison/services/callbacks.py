"""Callback requests: "call me back" to a person or a ring, from scratch or from a
question nobody answered in time. Who may handle one follows the rings: its owner, its
creator, the owning ring's members and their units' supervisors (docs/rings.md).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain import identity
from liaison.domain.errors import Refused
from liaison.domain.vocabulary import CallbackUpdate
from liaison.protocol import server
from liaison.protocol.rings import CallbackRequest as Record
from liaison.services.hub import Hub
from liaison.services.records import (
    MAX_QUESTION_CHARS,
    OPEN_CALLBACK_STATES,
    callback_record,
    client_reference,
)
from liaison.services.rings import RingService
from liaison.store.models import CallbackRequest, Consultation


class CallbackError(Refused):
    """Refused by the callback service."""


class CallbackService:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: async_sessionmaker[AsyncSession],
        hub: Hub,
        rings: RingService,
    ) -> None:
        self.config = settings
        self.clock = clock
        self.db = db
        self.hub = hub
        self.rings = rings
        # Called after every change of a callback request (the load view counts them).
        self.listeners: list[Callable[[], None]] = []
        hub.on("callbacks", self._on_changed)

    async def create_callback(
        self,
        person_id: int,
        owner_person_id: int | None = None,
        owner_ring_id: str | None = None,
        question_id: str | None = None,
        note: str = "",
        client_code: str | None = None,
        due_minutes: int = 60,
    ) -> Record:
        if (owner_person_id is None) == (owner_ring_id is None) and question_id is None:
            raise CallbackError("bad_field", "a callback needs an owner: a person or a ring")
        if len(note) > MAX_QUESTION_CHARS:
            raise CallbackError("bad_field", f"note must be text of at most {MAX_QUESTION_CHARS}")
        clean_note, _ = identity.redact_identity_codes(
            " ".join(note.split()), self.config.secret_key
        )
        client_ref = client_reference(client_code, self.config.secret_key)
        now = self.clock.now()
        consultation_id = None
        if question_id is not None:
            # A waiting or timed-out question becomes a callback request of its ring.
            async with self.db() as db:
                c = await db.scalar(
                    select(Consultation).where(Consultation.question_id == question_id)
                )
            if c is None or c.asker_id != person_id:
                raise CallbackError("not_found", "no such question of yours")
            if c.state == "waiting":
                await self.rings.cancel(person_id, question_id)
            owner_ring_id, owner_person_id = c.ring_id, None
            consultation_id = c.id
            clean_note = clean_note or c.question
            client_ref = client_ref or c.client_ref
        else:
            if owner_ring_id is not None and owner_ring_id not in self.rings.ring_ids():
                raise CallbackError("not_found", "no such ring")
        async with self.db.begin() as db:
            if consultation_id is None:
                record = Consultation(
                    question_id=secrets.token_hex(8),
                    kind="callback",
                    ring_id=owner_ring_id,
                    asker_id=person_id,
                    question=clean_note,
                    urgency="normal",
                    client_ref=client_ref,
                    state="waiting",
                    asked_at=now,
                    missed_offers=0,
                )
                db.add(record)
                await db.flush()
                consultation_id = record.id
            callback = CallbackRequest(
                consultation_id=consultation_id,
                created_by=person_id,
                owner_person_id=owner_person_id,
                owner_ring_id=owner_ring_id,
                note=clean_note,
                client_ref=client_ref,
                state="open",
                due_at=now + timedelta(minutes=due_minutes),
                created_at=now,
            )
            db.add(callback)
            await db.flush()
            data = callback_record(callback)
        await self._announce_callback(data)
        return data

    async def update_callback(
        self, person_id: int, callback_id: int, state: CallbackUpdate
    ) -> Record:
        now = self.clock.now()
        async with self.db.begin() as db:
            cb = await db.get(CallbackRequest, callback_id)
            if cb is None or not self._may_handle(person_id, cb):
                raise CallbackError("not_found", "no such callback request for you")
            if cb.state in ("done", "could_not_reach"):
                raise CallbackError("closed", "this callback request is closed")
            if state == "claimed":
                if cb.state == "claimed" and cb.claimed_by != person_id:
                    raise CallbackError("already_claimed", "someone else has claimed it")
                cb.state, cb.claimed_by = "claimed", person_id
            else:
                cb.state, cb.closed_at = state, now
                cb.claimed_by = cb.claimed_by or person_id
                if cb.consultation_id is not None:
                    c = await db.get(Consultation, cb.consultation_id)
                    if c is not None and c.state in ("waiting", "timed_out", "cancelled"):
                        c.state, c.closed_at = "closed", now
                        c.expert_id = c.expert_id or person_id
                        c.outcome = "answered" if state == "done" else "callback_needed"
            data = callback_record(cb)
        await self._announce_callback(data)
        return data

    def _may_handle(self, person_id: int, cb: CallbackRequest) -> bool:
        if cb.owner_person_id == person_id or cb.created_by == person_id:
            return True
        return cb.owner_ring_id is not None and person_id in self._ring_audience(cb.owner_ring_id)

    def _ring_audience(self, ring_id: str) -> set[int]:
        return self.rings.members_of(ring_id) | self.rings.supervisors_of(ring_id)

    async def callbacks_for(self, person_id: int) -> list[Record]:
        """Open ones the person owns, can take through a ring, or asked for; newest first."""
        rings = [r for r in self.rings.ring_ids() if person_id in self._ring_audience(r)]
        async with self.db() as db:
            rows = (
                await db.scalars(
                    select(CallbackRequest)
                    .where(
                        (CallbackRequest.owner_person_id == person_id)
                        | (CallbackRequest.created_by == person_id)
                        | (CallbackRequest.owner_ring_id.in_(rings)),
                        CallbackRequest.state.in_(OPEN_CALLBACK_STATES),
                    )
                    .order_by(CallbackRequest.due_at)
                    .limit(200)
                )
            ).all()
        return [callback_record(c) for c in rows]

    async def _announce_callback(self, data: Record) -> None:
        to = {data.created_by}
        if data.owner_person_id is not None:
            to.add(data.owner_person_id)
        if data.owner_ring_id is not None:
            to |= self._ring_audience(data.owner_ring_id)
        await self.hub.send(to, server.Callback(callback=data))
        # Every node's load view counts callbacks: each hears of the change (this one too).
        await self.hub.publish({"k": "callbacks"})

    async def _on_changed(self, message: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener()
