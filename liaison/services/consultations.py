"""Consultations: what a taken question becomes. The live conversation between asker and
expert, the expert's busy status, the record's close, notes, a third person, and the
log's readings (own list, missed offers, earlier consultations about a client, CSV).

Routing (liaison/services/rings.py) says when a question is taken; this opens the
consultation. Closing one gives the expert's capacity back to routing in the same step.
See docs/consultations.md.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain import identity
from liaison.domain import rings as domain
from liaison.domain.consultations import NOT_RECORDED
from liaison.domain.errors import Refused
from liaison.domain.vocabulary import (
    ConsultationState,
    LegalBasis,
    OfferOutcome,
    Outcome,
    RecordedOutcome,
    Topic,
    Urgency,
    WithdrawReason,
)
from liaison.protocol import server
from liaison.protocol.rings import Consultation as Record
from liaison.protocol.rings import ConsultationConversation, MissedOffer
from liaison.services.chat import ChatService
from liaison.services.consultation_idle import ConsultationIdle, deadline_name
from liaison.services.hub import Hub
from liaison.services.presence import PresenceService
from liaison.services.records import MAX_QUESTION_CHARS, consultation_record, iso
from liaison.services.rings import RingService
from liaison.services.scheduler import Scheduler
from liaison.store import repositories as repo
from liaison.store.models import Consultation, Person, RingOffer

log = logging.getLogger(__name__)

# The missed list: offers that rang out or were withdrawn, over this long.
MISSED_WINDOW = timedelta(days=7)
MISSED_LIMIT = 50


class ConsultationError(Refused):
    """Refused by the consultation service."""


class ConsultationService:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: async_sessionmaker[AsyncSession],
        hub: Hub,
        scheduler: Scheduler,
        presence: PresenceService,
        chat: ChatService,
        rings: RingService,
    ) -> None:
        self.config = settings
        self.clock = clock
        self.db = db
        self.hub = hub
        self.presence = presence
        self.chat = chat
        self.rings = rings
        self.idle = ConsultationIdle(settings, clock, db, hub, scheduler, self._close_idle)
        rings.accepted_listeners.append(self._open_consultation)

    async def start(self) -> None:
        """After routing has started: idle timers (presence reads who is busy from the
        open consultations itself: repositories.presence_settings)."""
        await self.idle.start()

    async def _open_consultation(self, event: domain.QuestionAccepted) -> None:
        """The live conversation between asker and expert, written with its link to the
        consultation in one transaction, and the expert shows busy."""
        async with self.db.begin() as db:
            c = await db.scalar(
                select(Consultation).where(Consultation.question_id == event.question_id)
            )
            assert c is not None
            title = f"{self.rings.ring_name(c.ring_id or '')}: {c.question}"[:100]
            conversation_id = await self.chat.new_group(
                db, event.person_id, title, [event.asker_id]
            )
            c.conversation_id = conversation_id
            record = consultation_record(c)
            accepted_at = c.accepted_at
        await self.chat.announce(conversation_id, event.person_id)
        await self._update_busy(event.person_id)
        self.idle.opened(record.id, accepted_at or self.clock.now())
        await self.hub.send(
            [event.asker_id, event.person_id], server.ConsultationFrame(consultation=record)
        )

    async def close_consultation(
        self,
        person_id: int,
        consultation_id: int,
        outcome: Outcome,
        topic: Topic,
        legal_basis: LegalBasis | None = None,
    ) -> Record:
        """The expert records what came of it; the asker adds notes but does not close."""

        def check(c: Consultation) -> None:
            if person_id not in (c.asker_id, c.expert_id, c.third_party_id):
                raise ConsultationError("not_found", "no such consultation of yours")
            if c.state != "open":
                raise ConsultationError("closed", "this consultation is not open")
            if person_id != c.expert_id:
                raise ConsultationError(
                    "not_allowed", "the expert who took the question closes the consultation"
                )

        return await self._close(
            consultation_id, RecordedOutcome(outcome), topic, legal_basis, check=check
        )

    async def _close_idle(self, consultation_id: int) -> None:
        """Closed for idleness (liaison/domain/consultations.py): the outcome says so."""
        with contextlib.suppress(ConsultationError):
            await self._close(consultation_id, RecordedOutcome(NOT_RECORDED), None, None)
            log.info("consultation %s closed itself after idling", consultation_id)

    async def _close(
        self,
        consultation_id: int,
        outcome: RecordedOutcome,
        topic: Topic | None,
        legal_basis: LegalBasis | None,
        check: Callable[[Consultation], None] | None = None,
    ) -> Record:
        closed: list[Record] = []

        async def write(db: AsyncSession, now: datetime) -> int | None:
            c = await db.get(Consultation, consultation_id)
            if c is None:
                raise ConsultationError("not_found", "no such consultation of yours")
            if check is not None:
                check(c)
            elif c.state != "open":
                raise ConsultationError("closed", "this consultation is not open")
            c.state, c.outcome, c.topic, c.closed_at = "closed", outcome, topic, now
            # Its idle deadline ends with it (in the same transaction).
            await repo.drop_deadline(db, deadline_name(consultation_id))
            if legal_basis is not None:
                c.legal_basis = legal_basis
            closed.append(consultation_record(c))
            return c.expert_id

        await self.rings.consultation_ended(write)
        record = closed[0]
        expert_id = record.expert_id
        self.idle.closed(consultation_id)
        if expert_id is not None:
            await self._update_busy(expert_id)
        await self._announce(record)
        return record

    async def _announce(self, record: Record) -> None:
        await self.hub.send(
            _people(record.asker_id, record.expert_id, record.third_party_id),
            server.ConsultationFrame(consultation=record),
        )

    async def keep_open(self, person_id: int, consultation_id: int) -> Record:
        """The expert says an idle consultation is still going (a phone call, say)."""
        async with self.db.begin() as db:
            c = await db.get(Consultation, consultation_id)
            if c is None or person_id not in (c.asker_id, c.expert_id, c.third_party_id):
                raise ConsultationError("not_found", "no such consultation of yours")
            if c.state != "open":
                raise ConsultationError("closed", "this consultation is not open")
            if person_id != c.expert_id:
                raise ConsultationError("not_allowed", "only the expert keeps it open")
            c.kept_open_at = self.clock.now()
            record = consultation_record(c)
            await self.idle.refresh(db, c)
        await self._announce(record)
        return record

    async def add_note(self, person_id: int, consultation_id: int, note: str) -> Record:
        """The asker's own note on a consultation, open or closed (replaces the last)."""
        if len(note) > MAX_QUESTION_CHARS:
            raise ConsultationError(
                "bad_field", f"note must be text of at most {MAX_QUESTION_CHARS} characters"
            )
        clean, _ = identity.redact_identity_codes(note.strip(), self.config.secret_key())
        async with self.db.begin() as db:
            c = await db.get(Consultation, consultation_id)
            if c is None or c.asker_id != person_id or c.kind == "callback":
                raise ConsultationError("not_found", "no such consultation you asked")
            c.asker_note = clean
            record = consultation_record(c)
        await self._announce(record)
        return record

    async def invite(self, person_id: int, consultation_id: int, invitee: int) -> Record:
        """Brings a third person into an open consultation (three-way)."""
        async with self.db() as db:
            if await db.get(Person, invitee) is None:
                raise ConsultationError("not_found", "no such person")
            c = await db.get(Consultation, consultation_id)
            if c is None or person_id not in (c.asker_id, c.expert_id):
                raise ConsultationError("not_found", "no such consultation of yours")
            if c.state != "open" or c.conversation_id is None:
                raise ConsultationError("closed", "this consultation is not open")
            if c.third_party_id is not None:
                raise ConsultationError("bad_field", "this consultation already has a third person")
            if invitee in (c.asker_id, c.expert_id):
                raise ConsultationError("bad_field", "that person is already in the consultation")
            conversation_id = c.conversation_id
        # Into the conversation first: if that fails, nothing is recorded.
        await self.chat.add_member(person_id, True, conversation_id, invitee, invited=True)
        async with self.db.begin() as db:
            row = await db.get(Consultation, consultation_id)
            assert row is not None
            row.third_party_id = invitee
            record = consultation_record(row)
        await self._announce(record)
        return record

    async def consultations_of(self, person_id: int, limit: int = 100) -> list[Record]:
        async with self.db() as db:
            rows = (
                await db.scalars(
                    select(Consultation)
                    .where(
                        (Consultation.asker_id == person_id)
                        | (Consultation.expert_id == person_id)
                        | (Consultation.third_party_id == person_id)
                    )
                    .order_by(Consultation.asked_at.desc())
                    .limit(limit)
                )
            ).all()
        return [consultation_record(c) for c in rows]

    async def consultation_conversations(self, person_id: int) -> list[ConsultationConversation]:
        """Which of the person's conversations are consultations, and whether they ended:
        clients keep ended ones apart from the conversations in use."""
        async with self.db() as db:
            rows = (
                await db.execute(
                    select(
                        Consultation.conversation_id,
                        Consultation.id,
                        Consultation.state,
                        Consultation.closed_at,
                    )
                    .where(
                        (Consultation.asker_id == person_id)
                        | (Consultation.expert_id == person_id)
                        | (Consultation.third_party_id == person_id),
                        Consultation.conversation_id.is_not(None),
                    )
                    .order_by(Consultation.id)
                )
            ).all()
        return [
            ConsultationConversation(
                conversation_id=conversation_id or 0,  # never None: filtered in the query
                consultation_id=consultation_id,
                state=ConsultationState(state),
                closed_at=iso(closed_at),
            )
            for conversation_id, consultation_id, state, closed_at in rows
        ]

    async def missed_for(self, person_id: int) -> list[MissedOffer]:
        """Offers to this person that rang out or were withdrawn (not because a colleague
        took the question) over the last week, newest first, with what became of each."""
        since = self.clock.now() - MISSED_WINDOW
        async with self.db() as db:
            rows = (
                await db.execute(
                    select(RingOffer, Consultation)
                    .join(Consultation, Consultation.question_id == RingOffer.question_id)
                    .where(
                        RingOffer.person_id == person_id,
                        RingOffer.ended_at >= since,
                        (RingOffer.outcome == "missed")
                        | (
                            (RingOffer.outcome == "withdrawn")
                            & (func.coalesce(RingOffer.reason, "") != "taken")
                        ),
                    )
                    .order_by(RingOffer.ended_at.desc(), RingOffer.id.desc())
                    .limit(MISSED_LIMIT)
                )
            ).all()
        return [
            MissedOffer(
                id=offer.id,
                question_id=offer.question_id,
                ring_id=offer.ring_id,
                ring_name=self.rings.ring_name(offer.ring_id),
                offered_at=offer.offered_at.isoformat(),
                ended_at=offer.ended_at.isoformat(),
                outcome="missed" if offer.outcome == OfferOutcome.MISSED else "withdrawn",
                reason=WithdrawReason(offer.reason) if offer.reason else None,
                asker_id=c.asker_id,
                question=c.question,
                urgency=Urgency(c.urgency),
                client_ref=c.client_ref,
                # What became of the question: its record's state now, and who took it.
                state=ConsultationState(c.state),
                expert_id=c.expert_id,
                consultation_outcome=RecordedOutcome(c.outcome) if c.outcome else None,
            )
            for offer, c in rows
        ]

    async def consultations_about(self, client_ref: str) -> list[Record]:
        """Earlier consultations on one client reference: who, when, what came of it.

        Question text stays with the participants; others see only the facts."""
        async with self.db() as db:
            rows = (
                await db.scalars(
                    select(Consultation)
                    .where(Consultation.client_ref == client_ref)
                    .order_by(Consultation.asked_at.desc())
                    .limit(100)
                )
            ).all()
        return [msgspec.structs.replace(consultation_record(c), question="") for c in rows]

    async def export_csv(self, person_id: int, everything: bool) -> str:
        """The log as CSV: an admin gets every record, others their own."""
        query = select(Consultation).order_by(Consultation.asked_at)
        if not everything:
            query = query.where(
                (Consultation.asker_id == person_id)
                | (Consultation.expert_id == person_id)
                | (Consultation.third_party_id == person_id)
            )
        async with self.db() as db:
            rows = (await db.scalars(query)).all()
        buffer = io.StringIO()
        columns = [
            "id", "kind", "ring_id", "asker_id", "expert_id", "third_party_id", "state",
            "asked_at", "offered_at", "accepted_at", "closed_at", "wait_seconds",
            "handle_seconds", "missed_offers", "outcome", "topic", "legal_basis", "client_ref",
        ]  # fmt: skip
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for c in rows:
            writer.writerow(msgspec.structs.asdict(consultation_record(c)))
        return buffer.getvalue()

    async def _update_busy(self, person_id: int) -> None:
        async with self.db() as db:
            open_count = await db.scalar(
                select(func.count())
                .select_from(Consultation)
                .where(Consultation.expert_id == person_id, Consultation.state == "open")
            )
        await self.presence.set_busy(person_id, bool(open_count))


def _people(*ids: int | None) -> set[int]:
    return {i for i in ids if i is not None}
