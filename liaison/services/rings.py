"""Ring service: runs the pure ring router, keeps its state in the store, and turns its
events into consultations, frames and presence. See docs/rings.md for the routing model.

Every router call happens under one lock, and the state is saved in the same
transaction as the consultation records it implies, so a restart resumes exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain import identity, phone_hours
from liaison.domain import rings as domain
from liaison.domain.consultations import NOT_RECORDED
from liaison.domain.directory import match_key
from liaison.domain.errors import Refused
from liaison.domain.text import is_row_id
from liaison.services.chat import ChatService
from liaison.services.consultation_idle import ConsultationIdle
from liaison.services.hub import Hub
from liaison.services.presence import PresenceService
from liaison.services.ring_legs import record_legs
from liaison.services.scheduler import Scheduler
from liaison.store.models import (
    CallbackRequest,
    Consultation,
    NamedContact,
    Organisation,
    Person,
    Ring,
    RingMember,
    RingOffer,
    RouterState,
    Unit,
)

log = logging.getLogger(__name__)

OUTCOMES = ("answered", "needs_follow_up", "forwarded", "callback_needed")
TOPICS = (
    "statement",
    "missing_attachment",
    "clients_situation",
    "discretion",
    "urgent_need",
    "request_to_expedite",
)
LEGAL_BASES = ("client_consent", "client_present", "necessity_sa_18")
CALLBACK_STATES = ("open", "claimed", "done", "could_not_reach")
# Still to be done: shown, counted, and never purged.
OPEN_CALLBACK_STATES = CALLBACK_STATES[:2]
NAMED_RING_PREFIX = "named:"
MAX_QUESTION_CHARS = 500
CLOSED_QUESTION_KEEP = timedelta(hours=1)
# Connections that asked for ring counts (`rings_subscribe`) get `ring_summary` frames.
TOPIC = "rings"
# The missed list: offers that rang out or were withdrawn, over this long.
MISSED_WINDOW = timedelta(days=7)
MISSED_LIMIT = 50
# After a failed save, members' availability is reported again this much later.
RESYNC_DELAY = timedelta(seconds=5)


class RingServiceError(Refused):
    """Refused by the ringservice service."""


def ring_config(row: Ring, serial_order: list[int]) -> domain.RingConfig:
    return domain.RingConfig(
        id=row.id,
        name=row.name,
        method=row.method,  # type: ignore[arg-type]
        alert_seconds=row.alert_seconds,
        queue_timeout_seconds=row.queue_timeout_seconds,
        overflow_ring_id=row.overflow_ring_id,
        serial_order=tuple(serial_order),
        max_concurrent=row.max_concurrent,
        target_answer_seconds=row.target_answer_seconds,
        phone_hours_only=row.phone_hours_only,
    )


def consultation_dict(c: Consultation) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    wait = (c.accepted_at - c.asked_at).total_seconds() if c.accepted_at else None
    handle = (
        (c.closed_at - c.accepted_at).total_seconds() if c.closed_at and c.accepted_at else None
    )
    return {
        "id": c.id,
        "question_id": c.question_id,
        "kind": c.kind,
        "ring_id": c.ring_id,
        "asker_id": c.asker_id,
        "expert_id": c.expert_id,
        "third_party_id": c.third_party_id,
        "conversation_id": c.conversation_id,
        "question": c.question,
        "urgency": c.urgency,
        "client_ref": c.client_ref,
        "legal_basis": c.legal_basis,
        "state": c.state,
        "asked_at": iso(c.asked_at),
        "offered_at": iso(c.offered_at),
        "accepted_at": iso(c.accepted_at),
        "closed_at": iso(c.closed_at),
        "wait_seconds": wait,
        "handle_seconds": handle,
        "missed_offers": c.missed_offers,
        "outcome": c.outcome,
        "topic": c.topic,
        "asker_note": c.asker_note,
        "kept_open_at": iso(c.kept_open_at),
        "reminded_at": iso(c.reminded_at),
    }


def callback_dict(c: CallbackRequest) -> dict[str, Any]:
    return {
        "id": c.id,
        "consultation_id": c.consultation_id,
        "created_by": c.created_by,
        "owner_person_id": c.owner_person_id,
        "owner_ring_id": c.owner_ring_id,
        "note": c.note,
        "client_ref": c.client_ref,
        "state": c.state,
        "claimed_by": c.claimed_by,
        "due_at": c.due_at.isoformat(),
        "created_at": c.created_at.isoformat(),
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
    }


class RingService:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: async_sessionmaker[AsyncSession],
        hub: Hub,
        scheduler: Scheduler,
        presence: PresenceService,
        chat: ChatService,
    ) -> None:
        self.config = settings
        self.clock = clock
        self.db = db
        self.hub = hub
        self.scheduler = scheduler
        self.presence = presence
        self.chat = chat
        self.router = domain.RingRouter(settings.ring_not_responding_after)
        self.zone = ZoneInfo(settings.time_zone)
        self._lock = asyncio.Lock()
        self._last_cleanup = clock.now()
        # The router's state as last saved, and when to resync after a failed save.
        self._saved: dict[str, Any] = self.router.to_dict()
        self._resync_at: datetime | None = None
        self._ring_members: dict[str, set[int]] = {}
        # Supervisors of the units the ring's members work in: they see its callbacks.
        self._ring_supervisors: dict[str, set[int]] = {}
        # Supervisors of each ring member's own unit: they see that member's own figures.
        self._person_supervisors: dict[int, set[int]] = {}
        self._ring_kinds: dict[str, str] = {}
        # Called after every change of routing state or callbacks (the load view listens).
        self.listeners: list[Callable[[], None]] = []
        self._last_free: dict[int, bool] = {}
        # Phone hours of ring members, and whether they are within them (phone-hours rings).
        self._phone_hours: dict[int, list[dict[str, Any]]] = {}
        self._in_hours: dict[int, bool] = {}
        self._hours_change: datetime | None = None
        # Ring counts: what each ring's last ring_summary said, and whether to look again.
        self._counts_sent: dict[str, str] = {}
        self._counts_dirty_at: datetime | None = None
        self._count_watchers = 0
        # What each asker was last told about their open questions.
        self._status_sent: dict[str, str] = {}
        self.idle = ConsultationIdle(settings, clock, db, hub, scheduler, self._close_idle)
        presence.listeners.append(self._on_presence)
        scheduler.add("rings", self._next_deadline, self._on_time)
        scheduler.add("ring summaries", self._counts_deadline, self._publish_counts)
        scheduler.add("phone hours", lambda: self._hours_change, self._on_hours)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        async with self.db() as db:
            state = await db.get(RouterState, 1)
            if state is not None:
                self.router = domain.RingRouter.from_dict(
                    state.state, self.config.ring_not_responding_after
                )
            await self._load_rings(db)
        self._saved = self.router.to_dict()
        now = self.clock.now()
        async with self._lock:
            events: list[domain.Event] = []
            for person_id in {p for members in self._ring_members.values() for p in members}:
                view = self.presence.view(person_id)
                events += self.router.set_availability(person_id, _free(view), None, now)
                events += self._hours_of(person_id, view, now)
            events += self.router.tick(now)
            await self._commit(events, now)
        await self.idle.start()
        async with self.db() as db:
            experts = (
                await db.scalars(
                    select(Consultation.expert_id)
                    .where(Consultation.state == "open", Consultation.expert_id.is_not(None))
                    .distinct()
                )
            ).all()
        for expert_id in experts:
            # Busy is derived, not stored: an open consultation makes its expert busy again.
            if expert_id is not None:
                await self.presence.set_busy(expert_id, True)

    async def reload_rings(self) -> None:
        """After the ring configuration changed in the store."""
        async with self._lock:
            async with self.db() as db:
                await self._load_rings(db)
            now = self.clock.now()
            events: list[domain.Event] = []
            for ring_id, configured in self._ring_members.items():
                # Someone taken out of a ring stops being offered its questions.
                for person_id in set(self.router.members(ring_id)) - configured:
                    events += self.router.sign_out(ring_id, person_id, now)
            await self._commit(events, now)

    async def _load_rings(self, db: AsyncSession) -> None:
        rows = (await db.scalars(select(Ring))).all()
        members = (await db.scalars(select(RingMember).order_by(RingMember.position))).all()
        self._ring_members = {r.id: set() for r in rows}
        order: dict[str, list[int]] = {r.id: [] for r in rows}
        for m in members:
            self._ring_members.setdefault(m.ring_id, set()).add(m.person_id)
            order.setdefault(m.ring_id, []).append(m.person_id)
        for row in rows:
            self.router.add_ring(ring_config(row, order[row.id]))
        people = (await db.execute(select(Person.id, Person.unit_id, Person.roles))).all()
        unit_of = {pid: unit for pid, unit, _ in people}
        supervisors: dict[int | None, set[int]] = {}
        for pid, unit, roles in people:
            if "supervisor" in roles and unit is not None:
                supervisors.setdefault(unit, set()).add(pid)
        self._person_supervisors = {
            m: supervisors.get(unit_of.get(m), set())
            for members in self._ring_members.values()
            for m in members
        }
        self._ring_supervisors = {
            ring_id: {s for m in members for s in self._person_supervisors[m]}
            for ring_id, members in self._ring_members.items()
        }
        self._ring_kinds = {r.id: r.kind for r in rows}

    def _next_deadline(self) -> datetime | None:
        deadlines = [self._last_cleanup + CLOSED_QUESTION_KEEP, self.router.next_deadline()]
        deadlines.append(self._resync_at)
        return min(d for d in deadlines if d is not None)

    async def _on_time(self, now: datetime) -> None:
        async with self._lock:
            if self._resync_at is not None and self._resync_at <= now:
                await self._resync(now)
            deadline = self.router.next_deadline()
            if deadline is not None and deadline <= now:
                await self._commit(self.router.tick(now), now)
            if now - self._last_cleanup >= CLOSED_QUESTION_KEEP:
                # Closed questions live on in the consultation log, not in the router.
                self._last_cleanup = now
                if self.router.purge_closed(now - CLOSED_QUESTION_KEEP):
                    await self._commit([], now)

    # ------------------------------------------------------------ presence

    def _on_presence(self, person_id: int, view: dict[str, Any]) -> None:
        if not any(person_id in m for m in self._ring_members.values()):
            return
        # A note, or available to busy, changes the view but not routing: no state write.
        free = _free(view)
        hours = list(view.get("phone_hours") or [])
        if self._last_free.get(person_id) == free and self._phone_hours.get(person_id) == hours:
            return
        self._last_free[person_id] = free
        self.scheduler.spawn(self._availability(person_id, view), "ring availability")

    async def _availability(self, person_id: int, view: dict[str, Any]) -> None:
        async with self._lock:
            now = self.clock.now()
            events = self.router.set_availability(person_id, _free(view), None, now)
            events += self._hours_of(person_id, view, now)
            await self._commit(events, now)

    # ------------------------------------------------------------ phone hours

    def _hours_of(self, person_id: int, view: dict[str, Any], now: datetime) -> list[domain.Event]:
        """Takes the person's phone hours from their presence view; routing hears whether
        they are within them now (asked only by phone-hours rings)."""
        self._phone_hours[person_id] = list(view.get("phone_hours") or [])
        self._next_hours_change(now)
        return self._apply_hours(person_id, now)

    def _apply_hours(self, person_id: int, now: datetime) -> list[domain.Event]:
        local = now.astimezone(self.zone)
        inside = phone_hours.in_phone_hours(self._phone_hours.get(person_id, []), local)
        if self._in_hours.get(person_id) == inside:
            return []
        self._in_hours[person_id] = inside
        return self.router.set_phone_hours(person_id, inside, now)

    def _next_hours_change(self, now: datetime) -> None:
        local = now.astimezone(self.zone)
        changes = [
            change.astimezone(UTC)
            for hours in self._phone_hours.values()
            if (change := phone_hours.next_phone_hours_change(hours, local)) is not None
        ]
        earlier = self._hours_change is None or (changes and min(changes) < self._hours_change)
        self._hours_change = min(changes, default=None)
        if earlier:
            self.scheduler.wake()

    async def _on_hours(self, now: datetime) -> None:
        async with self._lock:
            events: list[domain.Event] = []
            for person_id in list(self._phone_hours):
                events += self._apply_hours(person_id, now)
            self._next_hours_change(now)
            await self._commit(events, now)

    # ------------------------------------------------------------ reading

    def rings_for(self, person_id: int) -> list[dict[str, Any]]:
        """Every ring with its live counts, and whether this person may and did sign in."""
        now = self.clock.now()
        result = []
        for config in self._listed_rings():
            counts = self.ring_counts(config.id, now)
            result.append(
                {
                    **counts,
                    "name": config.name,
                    "method": config.method,
                    "overflow_ring_id": config.overflow_ring_id,
                    "phone_hours_only": config.phone_hours_only,
                    "member": person_id in self._ring_members.get(config.id, set()),
                    "signed_in": person_id in self.router.members(config.id),
                }
            )
        return result

    def _listed_rings(self) -> list[domain.RingConfig]:
        """Rings people choose from: named-contact rings are reached by "contact my liaison"."""
        return [c for c in self.router.rings() if not c.id.startswith(NAMED_RING_PREFIX)]

    def ring_counts(self, ring_id: str, now: datetime) -> dict[str, Any]:
        """A ring's counts for everyone: no names (the `ring_summary` frame)."""
        status = self.router.ring_status(ring_id, now)
        return {
            "id": ring_id,
            "members_signed_in": len(status.members_signed_in),
            "members_free": len(status.members_free),
            "members_not_responding": len(status.members_not_responding),
            "waiting": status.waiting + status.offered,
            "oldest_wait_seconds": status.oldest_wait_seconds,
            "estimated_wait_seconds": status.estimated_wait_seconds,
        }

    def member_state(self, person_id: int) -> dict[str, Any]:
        """The person's own standing in routing (`ring_member` frame)."""
        status = self.router.member_status(person_id)
        return {
            "not_responding": bool(status and status.not_responding),
            "missed_in_row": status.missed_in_row if status else 0,
        }

    # ------------------------------------------------------------ ring counts, live

    def subscribe_counts(self) -> None:
        """A connection subscribes; it gets the current counts in its reply."""
        if not self._count_watchers:
            # Nobody watched, so nothing was sent meanwhile: now is what the first one knows.
            now = self.clock.now()
            self._counts_sent = {
                c.id: _fingerprint(self.ring_counts(c.id, now)) for c in self._listed_rings()
            }
        self._count_watchers += 1

    def unsubscribe_counts(self) -> None:
        self._count_watchers = max(0, self._count_watchers - 1)

    def _counts_changed(self) -> None:
        if self._count_watchers and self._counts_dirty_at is None:
            self._counts_dirty_at = self.clock.now()
            self.scheduler.wake()

    def _counts_deadline(self) -> datetime | None:
        return self._counts_dirty_at

    async def _publish_counts(self, now: datetime) -> None:
        """One round: every ring whose counts changed since they were last sent, encoded
        once for every subscribed connection. Changes that come while a round is sent go
        out in the next one, so a burst of changes is a few frames, not one per change."""
        self._counts_dirty_at = None
        if not self._count_watchers:
            self._counts_sent.clear()
            return
        for config in self._listed_rings():
            counts = self.ring_counts(config.id, now)
            fingerprint = _fingerprint(counts)
            if self._counts_sent.get(config.id) == fingerprint:
                continue
            self._counts_sent[config.id] = fingerprint
            await self.hub.send(None, {"type": "ring_summary", "ring": counts}, topic=TOPIC)

    @contextlib.asynccontextmanager
    async def settled(self) -> AsyncIterator[None]:
        """While held, the router's state and the store agree: no change is half-saved."""
        async with self._lock:
            yield

    def ring_ids(self) -> list[str]:
        """Every configured ring, named-contact rings included."""
        return sorted(self._ring_members)

    def ring_kind(self, ring_id: str) -> str:
        return self._ring_kinds.get(ring_id, "")

    def members_of(self, ring_id: str) -> set[int]:
        return set(self._ring_members.get(ring_id, set()))

    def supervisors_of(self, ring_id: str) -> set[int]:
        """Supervisors of the units the ring's members work in."""
        return set(self._ring_supervisors.get(ring_id, set()))

    def supervisors_of_person(self, person_id: int) -> set[int]:
        """Supervisors of a ring member's own unit."""
        return set(self._person_supervisors.get(person_id, set()))

    def offers_for(self, person_id: int) -> list[dict[str, Any]]:
        """Live offers ringing for this person (after a reload or a restart)."""
        status = self.router.member_status(person_id)
        if status is None or status.offered_question is None:
            return []
        question = self.router.question(status.offered_question)
        offer = question.live_offer_for(person_id)
        if offer is None:
            return []
        return [
            {
                "type": "offer",
                "question_id": question.id,
                "ring_id": question.ring_id,
                "ring_name": self.ring_name(question.ring_id),
                "asker_id": question.asker_id,
                "question": question.text,
                "urgency": question.urgency,
                "expires_at": offer.expires_at.isoformat(),
            }
        ]

    def questions_of(self, person_id: int) -> list[dict[str, Any]]:
        """The person's own questions still waiting for an answer."""
        return [
            self.question_status(q.id)
            for q in self.router.open_questions()
            if q.asker_id == person_id
        ]

    def question_status(self, question_id: str) -> dict[str, Any]:
        status = self.router.queue_status(question_id, self.clock.now())
        data = asdict(status)
        data["deadline"] = status.deadline.isoformat() if status.deadline else None
        question = self.router.question(question_id)
        data["accepted_by"] = question.accepted_by
        data["ring_name"] = self.ring_name(status.ring_id)
        return data

    def ring_name(self, ring_id: str) -> str:
        for config in self.router.rings():
            if config.id == ring_id:
                return config.name
        return ring_id

    # ------------------------------------------------------------ membership

    async def sign_in(self, person_id: int, ring_id: object, signed_in: object) -> None:
        if not isinstance(ring_id, str) or not isinstance(signed_in, bool):
            raise RingServiceError("bad_field", "ring_id must be text and signed_in true or false")
        if person_id not in self._ring_members.get(ring_id, set()):
            raise RingServiceError("not_allowed", "you are not a member of that ring")
        async with self._lock:
            now = self.clock.now()
            if signed_in:
                events = self.router.sign_in(ring_id, person_id, now)
                events += self.router.set_availability(
                    person_id, _free(self.presence.view(person_id)), None, now
                )
            else:
                events = self.router.sign_out(ring_id, person_id, now)
            await self._commit(events, now)

    # ------------------------------------------------------------ asking

    def client_reference(self, code: object) -> str | None:
        """The pseudonym of a personal identity code; None when no code was given."""
        if code in (None, ""):
            return None
        if not isinstance(code, str):
            raise RingServiceError("bad_field", "client_code must be text")
        try:
            return identity.pseudonymise(code, self.config.secret_key())
        except identity.InvalidIdentityCode as e:
            raise RingServiceError(
                "invalid_identity_code",
                f"that is not a valid personal identity code ({e.reason})",
            ) from None

    def _clean_question(self, text: object) -> str:
        if not isinstance(text, str) or not text.strip():
            raise RingServiceError("bad_field", "write the question in a line")
        cleaned = " ".join(text.split())
        if len(cleaned) > MAX_QUESTION_CHARS:
            raise RingServiceError(
                "question_too_long", f"a question is at most {MAX_QUESTION_CHARS} characters"
            )
        redacted, _ = identity.redact_identity_codes(cleaned, self.config.secret_key)
        return redacted

    async def ask(
        self,
        asker_id: int,
        ring_id: object,
        text: object,
        client_code: object = None,
        urgency: object = "normal",
        legal_basis: object = None,
        kind: str = "ring",
    ) -> dict[str, Any]:
        if not isinstance(ring_id, str) or ring_id not in self._ring_members:
            raise RingServiceError("not_found", "no such ring")
        if urgency not in ("normal", "urgent"):
            raise RingServiceError("bad_field", "urgency must be normal or urgent")
        if legal_basis is not None and legal_basis not in LEGAL_BASES:
            raise RingServiceError(
                "bad_field", f"legal_basis must be one of {', '.join(LEGAL_BASES)}"
            )
        question = self._clean_question(text)
        client_ref = self.client_reference(client_code)
        question_id = secrets.token_hex(8)
        async with self._lock:
            now = self.clock.now()
            level: domain.Urgency = "urgent" if urgency == "urgent" else "normal"
            events = self.router.ask(question_id, ring_id, asker_id, question, level, now)
            # The record and the router state that routes it are saved in one transaction.
            await self._commit(
                events,
                now,
                new_record=Consultation(
                    question_id=question_id,
                    kind=kind,
                    ring_id=ring_id,
                    asker_id=asker_id,
                    question=question,
                    urgency=str(urgency),
                    client_ref=client_ref,
                    legal_basis=legal_basis,
                    state="waiting",
                    asked_at=now,
                    missed_offers=0,
                ),
            )
        return self.question_status(question_id)

    async def ask_named(
        self,
        asker_id: int,
        text: object,
        client_code: object = None,
        urgency: object = "normal",
        legal_basis: object = None,
    ) -> dict[str, Any]:
        """ "Contact my liaison": the area's named contacts in order, then the area's ring."""
        async with self.db() as db:
            row = (
                await db.execute(
                    select(Person, Unit)
                    .outerjoin(Unit, Person.unit_id == Unit.id)
                    .where(Person.id == asker_id)
                )
            ).first()
            area = row[1].area if row and row[1] else ""
            asker_side = await self._side_of(db, asker_id)
            contacts_side = "kela" if asker_side == "social_services" else "social_services"
            contacts = list(
                (
                    await db.scalars(
                        select(NamedContact.person_id)
                        .where(
                            NamedContact.area_key == match_key(area),
                            NamedContact.side == contacts_side,
                        )
                        .order_by(NamedContact.position)
                    )
                ).all()
            )
            # The area's liaison ring is Kela's liaisons: the fallback for social services.
            area_ring = (
                await db.scalar(
                    select(Ring.id).where(Ring.kind == "liaison", Ring.area_key == match_key(area))
                )
                if contacts_side == "kela"
                else None
            )
        if not contacts and area_ring is None:
            raise RingServiceError("no_named_contacts", "no named contacts or ring for your area")
        free_contacts = [c for c in contacts if _free(self.presence.view(c))]
        if not free_contacts and area_ring is not None:
            # Nobody named is free now: straight to the area's ring, never to nobody.
            return await self.ask(
                asker_id, area_ring, text, client_code, urgency, legal_basis, "named"
            )
        ring_id = await self._named_ring(area, contacts_side, contacts, area_ring)
        return await self.ask(asker_id, ring_id, text, client_code, urgency, legal_basis, "named")

    async def _side_of(self, db: AsyncSession, person_id: int) -> str:
        kind = await db.scalar(
            select(Organisation.kind)
            .join(Person, Person.organisation_id == Organisation.id)
            .where(Person.id == person_id)
        )
        return str(kind or "kela")

    async def _named_ring(
        self, area: str, side: str, contacts: list[int], overflow: str | None
    ) -> str:
        """A serial ring over the named contacts that overflows to the area's ring."""
        ring_id = f"{NAMED_RING_PREFIX}{side}:{area}"[:64]
        alert = 20
        async with self.db.begin() as db:
            row = await db.get(Ring, ring_id)
            if row is None:
                row = Ring(id=ring_id, name=f"{area}", kind="named", area=area)
                db.add(row)
            row.method = "serial"
            row.alert_seconds = alert
            row.queue_timeout_seconds = max(alert * max(len(contacts), 1), 30)
            row.overflow_ring_id = overflow
            row.max_concurrent = 1
            row.target_answer_seconds = 60
            await db.flush()
            existing = {
                m.person_id: m
                for m in (await db.scalars(select(RingMember).where(RingMember.ring_id == ring_id)))
            }
            for position, person_id in enumerate(contacts):
                member = existing.pop(person_id, None)
                if member is None:
                    db.add(RingMember(ring_id=ring_id, person_id=person_id, position=position))
                else:
                    member.position = position
            for member in existing.values():
                await db.delete(member)
        async with self._lock:
            async with self.db() as db:
                await self._load_rings(db)
            now = self.clock.now()
            events: list[domain.Event] = []
            for person_id in contacts:
                # Named contacts answer for their area whenever they are free.
                events += self.router.sign_in(ring_id, person_id, now)
                events += self.router.set_availability(
                    person_id, _free(self.presence.view(person_id)), None, now
                )
            await self._commit(events, now)
        return ring_id

    async def cancel(self, asker_id: int, question_id: object) -> None:
        qid = _question_id(question_id)
        async with self._lock:
            now = self.clock.now()
            try:
                events = self.router.cancel(qid, asker_id, now)
            except domain.NotAsker:
                raise RingServiceError("not_allowed", "only the asker can cancel") from None
            except domain.UnknownQuestion:
                raise RingServiceError("not_found", "no such question") from None
            await self._commit(events, now)

    async def accept(self, person_id: int, question_id: object) -> dict[str, Any]:
        qid = _question_id(question_id)
        async with self._lock:
            now = self.clock.now()
            try:
                outcome = self.router.accept(qid, person_id, now)
            except domain.UnknownQuestion:
                raise RingServiceError("not_found", "no such question") from None
            await self._commit(outcome.events, now)
        if not outcome.won:
            reason = "not_found" if outcome.reason == "unknown" else outcome.reason
            raise RingServiceError(
                reason or "not_offered",
                {
                    "already_taken": "someone else took this question",
                    "not_offered": "this question is not offered to you",
                    "closed": "this question is closed",
                    "not_found": "no such question",
                }.get(reason or "", "not accepted"),
            )
        async with self.db() as db:
            consultation = await db.scalar(
                select(Consultation).where(Consultation.question_id == qid)
            )
        assert consultation is not None
        return consultation_dict(consultation)

    async def decline(self, person_id: int, question_id: object) -> None:
        qid = _question_id(question_id)
        async with self._lock:
            now = self.clock.now()
            try:
                events = self.router.decline(qid, person_id, now)
            except domain.UnknownQuestion:
                raise RingServiceError("not_found", "no such question") from None
            await self._commit(events, now)

    # ------------------------------------------------------------ consultations

    async def close_consultation(
        self,
        person_id: int,
        consultation_id: object,
        outcome: object,
        topic: object,
        legal_basis: object = None,
    ) -> dict[str, Any]:
        """The expert records what came of it; the asker adds notes but does not close."""
        if not isinstance(consultation_id, int) or isinstance(consultation_id, bool):
            raise RingServiceError("bad_field", "consultation_id must be a whole number")
        if outcome not in OUTCOMES:
            raise RingServiceError("bad_field", f"outcome must be one of {', '.join(OUTCOMES)}")
        if topic not in TOPICS:
            raise RingServiceError("bad_field", f"topic must be one of {', '.join(TOPICS)}")
        if legal_basis is not None and legal_basis not in LEGAL_BASES:
            raise RingServiceError(
                "bad_field", f"legal_basis must be one of {', '.join(LEGAL_BASES)}"
            )

        def check(c: Consultation) -> None:
            if person_id not in (c.asker_id, c.expert_id, c.third_party_id):
                raise RingServiceError("not_found", "no such consultation of yours")
            if c.state != "open":
                raise RingServiceError("closed", "this consultation is not open")
            if person_id != c.expert_id:
                raise RingServiceError(
                    "not_allowed", "the expert who took the question closes the consultation"
                )

        return await self._close(
            consultation_id, str(outcome), str(topic), legal_basis, check=check
        )

    async def _close_idle(self, consultation_id: int) -> None:
        """Closed for idleness (liaison/domain/consultations.py): the outcome says so."""
        with contextlib.suppress(RingServiceError):
            await self._close(consultation_id, NOT_RECORDED, None, None)
            log.info("consultation %s closed itself after idling", consultation_id)

    async def _close(
        self,
        consultation_id: int,
        outcome: str,
        topic: str | None,
        legal_basis: object,
        check: Callable[[Consultation], None] | None = None,
    ) -> dict[str, Any]:
        async with self._lock:
            now = self.clock.now()
            async with self.db.begin() as db:
                c = await db.get(Consultation, consultation_id)
                if c is None:
                    raise RingServiceError("not_found", "no such consultation of yours")
                if check is not None:
                    check(c)
                elif c.state != "open":
                    raise RingServiceError("closed", "this consultation is not open")
                c.state, c.outcome, c.topic, c.closed_at = "closed", outcome, topic, now
                if isinstance(legal_basis, str):
                    c.legal_basis = legal_basis
                expert_id = c.expert_id
                record = consultation_dict(c)
            events = self.router.consultation_ended(expert_id, now) if expert_id else []
            await self._commit(events, now)
        self.idle.closed(consultation_id)
        if expert_id is not None:
            await self._update_busy(expert_id)
        await self._announce(record)
        return record

    async def _announce(self, record: dict[str, Any]) -> None:
        await self.hub.send(
            {record["asker_id"], record["expert_id"], record["third_party_id"]} - {None},
            {"type": "consultation", "consultation": record},
        )

    async def keep_open(self, person_id: int, consultation_id: object) -> dict[str, Any]:
        """The expert says an idle consultation is still going (a phone call, say)."""
        async with self.db.begin() as db:
            c = await db.get(Consultation, _consultation_id(consultation_id))
            if c is None or person_id not in (c.asker_id, c.expert_id, c.third_party_id):
                raise RingServiceError("not_found", "no such consultation of yours")
            if c.state != "open":
                raise RingServiceError("closed", "this consultation is not open")
            if person_id != c.expert_id:
                raise RingServiceError("not_allowed", "only the expert keeps it open")
            c.kept_open_at = self.clock.now()
            record = consultation_dict(c)
            await self.idle.refresh(db, c)
        await self._announce(record)
        return record

    async def add_note(
        self, person_id: int, consultation_id: object, note: object
    ) -> dict[str, Any]:
        """The asker's own note on a consultation, open or closed (replaces the last)."""
        if not isinstance(note, str) or len(note) > MAX_QUESTION_CHARS:
            raise RingServiceError(
                "bad_field", f"note must be text of at most {MAX_QUESTION_CHARS} characters"
            )
        clean, _ = identity.redact_identity_codes(note.strip(), self.config.secret_key())
        async with self.db.begin() as db:
            c = await db.get(Consultation, _consultation_id(consultation_id))
            if c is None or c.asker_id != person_id or c.kind == "callback":
                raise RingServiceError("not_found", "no such consultation you asked")
            c.asker_note = clean
            record = consultation_dict(c)
        await self._announce(record)
        return record

    async def resume(self, person_id: int) -> dict[str, Any]:
        """A member who was not responding takes questions again."""
        async with self._lock:
            now = self.clock.now()
            await self._commit(self.router.resume(person_id, now), now)
        return self.member_state(person_id)

    async def invite(
        self, person_id: int, consultation_id: object, invitee: object
    ) -> dict[str, Any]:
        """Brings a third person into an open consultation (three-way)."""
        if not isinstance(consultation_id, int) or not isinstance(invitee, int):
            raise RingServiceError("bad_field", "consultation_id and person_id must be numbers")
        async with self.db() as db:
            if await db.get(Person, invitee) is None:
                raise RingServiceError("not_found", "no such person")
            c = await db.get(Consultation, consultation_id)
            if c is None or person_id not in (c.asker_id, c.expert_id):
                raise RingServiceError("not_found", "no such consultation of yours")
            if c.state != "open" or c.conversation_id is None:
                raise RingServiceError("closed", "this consultation is not open")
            if c.third_party_id is not None:
                raise RingServiceError("bad_field", "this consultation already has a third person")
            if invitee in (c.asker_id, c.expert_id):
                raise RingServiceError("bad_field", "that person is already in the consultation")
            conversation_id = c.conversation_id
        # Into the conversation first: if that fails, nothing is recorded.
        await self.chat.add_member(person_id, True, conversation_id, invitee, invited=True)
        async with self.db.begin() as db:
            row = await db.get(Consultation, consultation_id)
            assert row is not None
            row.third_party_id = invitee
            record = consultation_dict(row)
        await self.hub.send(
            {record["asker_id"], record["expert_id"], invitee} - {None},
            {"type": "consultation", "consultation": record},
        )
        return record

    async def consultations_of(self, person_id: int, limit: int = 100) -> list[dict[str, Any]]:
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
        return [consultation_dict(c) for c in rows]

    async def consultation_conversations(self, person_id: int) -> list[dict[str, Any]]:
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
            {
                "conversation_id": conversation_id,
                "consultation_id": consultation_id,
                "state": state,
                "closed_at": closed_at.isoformat() if closed_at else None,
            }
            for conversation_id, consultation_id, state, closed_at in rows
        ]

    async def missed_for(self, person_id: int) -> list[dict[str, Any]]:
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
            {
                "id": offer.id,
                "question_id": offer.question_id,
                "ring_id": offer.ring_id,
                "ring_name": self.ring_name(offer.ring_id),
                "offered_at": offer.offered_at.isoformat(),
                "ended_at": offer.ended_at.isoformat(),
                "outcome": offer.outcome,
                "reason": offer.reason,
                "asker_id": c.asker_id,
                "question": c.question,
                "urgency": c.urgency,
                "client_ref": c.client_ref,
                # What became of the question: its record's state now, and who took it.
                "state": c.state,
                "expert_id": c.expert_id,
                "consultation_outcome": c.outcome,
            }
            for offer, c in rows
        ]

    async def consultations_about(self, client_ref: str) -> list[dict[str, Any]]:
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
        return [{**consultation_dict(c), "question": ""} for c in rows]

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
            writer.writerow(consultation_dict(c))
        return buffer.getvalue()

    async def _update_busy(self, person_id: int) -> None:
        async with self.db() as db:
            open_count = await db.scalar(
                select(func.count())
                .select_from(Consultation)
                .where(Consultation.expert_id == person_id, Consultation.state == "open")
            )
        await self.presence.set_busy(person_id, bool(open_count))

    # ------------------------------------------------------------ effects

    async def _commit(
        self, events: list[domain.Event], now: datetime, new_record: Consultation | None = None
    ) -> None:
        """Saves the router state with what the events imply, then tells the people."""
        frames: list[tuple[set[int], dict[str, Any]]] = []
        accepted: list[domain.QuestionAccepted] = []
        askers: set[str] = set()
        members: set[int] = set()
        async with self._committing() as document, self.db.begin() as db:
            if new_record is not None:
                db.add(new_record)
                await db.flush()
            state = await db.get(RouterState, 1)
            if state is None:
                db.add(RouterState(id=1, state=document, updated_at=now))
            else:
                state.state = document
                state.updated_at = now
            await record_legs(db, self.router, events, now)
            # The records these events concern, in one query (an offer to 30 members is
            # 30 events about one question).
            question_ids = sorted(
                {e.question_id for e in events if not isinstance(e, domain.MemberEvent)}
            )
            records = (
                {
                    c.question_id: c
                    for c in await db.scalars(
                        select(Consultation).where(Consultation.question_id.in_(question_ids))
                    )
                }
                if question_ids
                else {}
            )
            for event in events:
                if isinstance(event, domain.MemberEvent):
                    members.add(event.person_id)
                    continue
                c = records.get(event.question_id)
                if c is None:
                    continue
                askers.add(event.question_id)
                if isinstance(event, domain.OfferMade):
                    c.offered_at = c.offered_at or now
                    frames.append(({event.person_id}, self._offer_frame(c, event)))
                elif isinstance(
                    event, domain.OfferMissed | domain.OfferWithdrawn | domain.OfferDeclined
                ):
                    if isinstance(event, domain.OfferMissed):
                        c.missed_offers += 1
                    reason = getattr(event, "reason", event.kind.removeprefix("offer_"))
                    frames.append(
                        (
                            {event.person_id},
                            {
                                "type": "offer_withdrawn",
                                "question_id": event.question_id,
                                "reason": reason,
                            },
                        )
                    )
                elif isinstance(event, domain.QuestionAccepted):
                    c.state, c.expert_id, c.accepted_at = "open", event.person_id, now
                    accepted.append(event)
                elif isinstance(event, domain.QuestionOverflowed):
                    c.ring_id = event.to_ring
                elif isinstance(event, domain.QuestionTimedOut):
                    c.state, c.closed_at = "timed_out", now
                elif isinstance(event, domain.QuestionCancelled):
                    c.state, c.closed_at = "cancelled", now
        for event in accepted:
            await self._open_consultation(event)
        for to, frame in frames:
            await self.hub.send(to, frame)
        for person_id in members:
            await self.hub.send(
                [person_id], {"type": "ring_member", **self.member_state(person_id)}
            )
        await self._send_statuses(askers)
        if events:
            self.scheduler.wake()
        self._counts_changed()
        self._changed()

    @contextlib.asynccontextmanager
    async def _committing(self) -> AsyncIterator[dict[str, Any]]:
        """The router's state to save. If the transaction fails, the router goes back to
        the state last saved: nothing the database does not hold stays live (a question
        asked while the database failed would otherwise ring with no record behind it)."""
        document = self.router.to_dict()
        try:
            yield document
        except BaseException:
            self.router = domain.RingRouter.from_dict(
                self._saved, self.config.ring_not_responding_after
            )
            # Availability is reported again from presence once the database answers.
            self._last_free.clear()
            self._in_hours.clear()
            self._resync_at = self.clock.now() + RESYNC_DELAY
            self.scheduler.wake()
            raise
        self._saved = document

    async def _resync(self, now: datetime) -> None:
        """After a failed commit: every member's availability as presence has it now."""
        self._resync_at = None
        events: list[domain.Event] = []
        for person_id in {p for members in self._ring_members.values() for p in members}:
            view = self.presence.view(person_id)
            free = _free(view)
            self._last_free[person_id] = free
            events += self.router.set_availability(person_id, free, None, now)
            events += self._hours_of(person_id, view, now)
        await self._commit(events + self.router.tick(now), now)

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    def _offer_frame(self, c: Consultation, event: domain.OfferMade) -> dict[str, Any]:
        return {
            "type": "offer",
            "question_id": c.question_id,
            "ring_id": event.ring_id,
            "ring_name": self.ring_name(event.ring_id),
            "asker_id": c.asker_id,
            "question": c.question,
            "urgency": c.urgency,
            "client_ref": c.client_ref,
            "expires_at": event.expires_at.isoformat(),
        }

    async def _send_statuses(self, touched: set[str]) -> None:
        """Tells askers what changed for their questions: those the events were about,
        and every open question whose place, counts or estimate moved (an urgent question
        went ahead, one ahead was cancelled or answered, a member became free)."""
        for question_id in touched | {q.id for q in self.router.open_questions()}:
            try:
                question = self.router.question(question_id)
            except domain.UnknownQuestion:
                continue
            status = self.question_status(question_id)
            # Time waited grows by itself: clients count it up; it is not a change.
            fingerprint = json.dumps({**status, "waited_seconds": None}, sort_keys=True)
            if question.is_open:
                if self._status_sent.get(question_id) == fingerprint:
                    continue
                self._status_sent[question_id] = fingerprint
            else:
                if question_id not in touched:
                    continue
                self._status_sent.pop(question_id, None)
            await self.hub.send(
                [question.asker_id], {"type": "question_status", "question": status}
            )

    async def _open_consultation(self, event: domain.QuestionAccepted) -> None:
        """The live conversation between asker and expert, and the expert shows busy."""
        async with self.db() as db:
            c = await db.scalar(
                select(Consultation).where(Consultation.question_id == event.question_id)
            )
        assert c is not None
        title = f"{self.ring_name(c.ring_id or '')}: {c.question}"[:100]
        summary = await self.chat.create_group(event.person_id, title, [event.asker_id])
        async with self.db.begin() as db:
            row = await db.get(Consultation, c.id)
            assert row is not None
            row.conversation_id = summary["id"]
            record = consultation_dict(row)
        await self._update_busy(event.person_id)
        self.idle.opened(record["id"], row.accepted_at or self.clock.now())
        await self.hub.send(
            [event.asker_id, event.person_id], {"type": "consultation", "consultation": record}
        )

    # ------------------------------------------------------------ callbacks

    async def create_callback(
        self,
        person_id: int,
        owner_person_id: object = None,
        owner_ring_id: object = None,
        question_id: object = None,
        note: object = "",
        client_code: object = None,
        due_minutes: object = 60,
    ) -> dict[str, Any]:
        if (owner_person_id is None) == (owner_ring_id is None) and question_id is None:
            raise RingServiceError("bad_field", "a callback needs an owner: a person or a ring")
        if (
            not isinstance(due_minutes, int)
            or isinstance(due_minutes, bool)
            or not 1 <= due_minutes <= 60 * 24 * 14
        ):
            raise RingServiceError("bad_field", "due_minutes must be 1 to 20160")
        if not isinstance(note, str) or len(note) > MAX_QUESTION_CHARS:
            raise RingServiceError(
                "bad_field", f"note must be text of at most {MAX_QUESTION_CHARS}"
            )
        clean_note, _ = identity.redact_identity_codes(
            " ".join(note.split()), self.config.secret_key
        )
        client_ref = self.client_reference(client_code)
        now = self.clock.now()
        consultation_id = None
        if question_id is not None:
            # A waiting or timed-out question becomes a callback request of its ring.
            qid = _question_id(question_id)
            async with self.db() as db:
                c = await db.scalar(select(Consultation).where(Consultation.question_id == qid))
            if c is None or c.asker_id != person_id:
                raise RingServiceError("not_found", "no such question of yours")
            if c.state == "waiting":
                await self.cancel(person_id, qid)
            owner_ring_id, owner_person_id = c.ring_id, None
            consultation_id = c.id
            clean_note = clean_note or c.question
            client_ref = client_ref or c.client_ref
        else:
            if owner_ring_id is not None and owner_ring_id not in self._ring_members:
                raise RingServiceError("not_found", "no such ring")
            if owner_person_id is not None and not isinstance(owner_person_id, int):
                raise RingServiceError("bad_field", "owner_person_id must be a number")
        async with self.db.begin() as db:
            if consultation_id is None:
                record = Consultation(
                    question_id=secrets.token_hex(8),
                    kind="callback",
                    ring_id=owner_ring_id if isinstance(owner_ring_id, str) else None,
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
                owner_person_id=owner_person_id if isinstance(owner_person_id, int) else None,
                owner_ring_id=owner_ring_id if isinstance(owner_ring_id, str) else None,
                note=clean_note,
                client_ref=client_ref,
                state="open",
                due_at=now + timedelta(minutes=due_minutes),
                created_at=now,
            )
            db.add(callback)
            await db.flush()
            data = callback_dict(callback)
        await self._announce_callback(data)
        return data

    async def update_callback(
        self, person_id: int, callback_id: object, state: object
    ) -> dict[str, Any]:
        if not isinstance(callback_id, int) or state not in CALLBACK_STATES[1:]:
            raise RingServiceError("bad_field", "state must be claimed, done or could_not_reach")
        now = self.clock.now()
        async with self.db.begin() as db:
            cb = await db.get(CallbackRequest, callback_id)
            if cb is None or not self._may_handle(person_id, cb):
                raise RingServiceError("not_found", "no such callback request for you")
            if cb.state in ("done", "could_not_reach"):
                raise RingServiceError("closed", "this callback request is closed")
            if state == "claimed":
                if cb.state == "claimed" and cb.claimed_by != person_id:
                    raise RingServiceError("already_claimed", "someone else has claimed it")
                cb.state, cb.claimed_by = "claimed", person_id
            else:
                cb.state, cb.closed_at = str(state), now
                cb.claimed_by = cb.claimed_by or person_id
                if cb.consultation_id is not None:
                    c = await db.get(Consultation, cb.consultation_id)
                    if c is not None and c.state in ("waiting", "timed_out", "cancelled"):
                        c.state, c.closed_at = "closed", now
                        c.expert_id = c.expert_id or person_id
                        c.outcome = "answered" if state == "done" else "callback_needed"
            data = callback_dict(cb)
        await self._announce_callback(data)
        return data

    def _may_handle(self, person_id: int, cb: CallbackRequest) -> bool:
        if cb.owner_person_id == person_id or cb.created_by == person_id:
            return True
        return cb.owner_ring_id is not None and person_id in self._ring_audience(cb.owner_ring_id)

    def _ring_audience(self, ring_id: str) -> set[int]:
        return self._ring_members.get(ring_id, set()) | self._ring_supervisors.get(ring_id, set())

    async def callbacks_for(self, person_id: int) -> list[dict[str, Any]]:
        """Open ones the person owns, can take through a ring, or asked for; newest first."""
        rings = [r for r in self._ring_members if person_id in self._ring_audience(r)]
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
        return [callback_dict(c) for c in rows]

    async def _announce_callback(self, data: dict[str, Any]) -> None:
        to = {data["created_by"]}
        if data["owner_person_id"] is not None:
            to.add(data["owner_person_id"])
        if data["owner_ring_id"] is not None:
            to |= self._ring_audience(data["owner_ring_id"])
        await self.hub.send(to, {"type": "callback", "callback": data})
        self._changed()


def _free(view: dict[str, Any]) -> bool:
    # Busy comes from consultations, which the router counts as load itself.
    return view.get("status") in ("available", "busy")


def _fingerprint(counts: dict[str, Any]) -> str:
    # The oldest wait grows by itself: clients count it up; it is not a change.
    return json.dumps({**counts, "oldest_wait_seconds": None}, sort_keys=True)


def _consultation_id(value: object) -> int:
    if not is_row_id(value):
        raise RingServiceError(
            "bad_field", "consultation_id must be a whole number from 0 to 2^31-1"
        )
    return value


def _question_id(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise RingServiceError("bad_field", "question_id must be text")
    return value
