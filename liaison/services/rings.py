"""Ring routing: runs the pure ring router (liaison/domain/rings.py), keeps its state in
the store, and turns its events into record changes and frames through the effects table
(liaison/services/ring_effects.py). See docs/rings.md for the routing model.

The router's state lives in the store as rows (one per ring, member and open question;
domain.RouterParts), each with the version that wrote it. Every routing change, on any
node, takes the routing row's lock, applies the rows written since the version it holds
if another node changed them, routes, and saves the pieces the router hands out as
changed in the same transaction as the consultation records the events imply: the nodes
take turns on one state, and a restart (or another node) resumes exactly. The router in
memory is this node's copy, which it answers reads from; a node that changed the state
tells the others on the bus (`rings`), and they apply the rows that change wrote.
What happens around routing lives beside it: consultations (consultations.py),
callback requests (callbacks.py) and "contact my liaison" (named_contacts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain import identity, phone_hours
from liaison.domain import rings as domain
from liaison.domain.errors import Refused
from liaison.domain.vocabulary import (
    ConsultationKind,
    LegalBasis,
    PresenceStatus,
    RoutingMethod,
    Urgency,
)
from liaison.protocol import server
from liaison.protocol.people import PresenceView
from liaison.protocol.rings import (
    Consultation as ConsultationRecord,
)
from liaison.protocol.rings import (
    QuestionStatus,
    RingCounts,
    RingMemberState,
    RingSummary,
)
from liaison.services import records, ring_effects
from liaison.services.hub import Hub, encode
from liaison.services.presence import PresenceService
from liaison.services.records import MAX_QUESTION_CHARS, consultation_record
from liaison.services.ring_legs import record_legs
from liaison.services.scheduler import Scheduler
from liaison.store import repositories as repo
from liaison.store.db import Sessions
from liaison.store.models import Consultation, Person, Ring, RingMember

log = logging.getLogger(__name__)

NAMED_RING_PREFIX = "named:"
CLOSED_QUESTION_KEEP = timedelta(hours=1)
# Connections that asked for ring counts (`rings_subscribe`) get `ring_summary` frames.
TOPIC = "rings"
# After a failed save, members' availability is reported again this much later.
RESYNC_DELAY = timedelta(seconds=5)
# The ring timers' row in `deadlines` (alert times, queue timeouts, overflows, re-offers):
# due at the router's next deadline, written by every routing change; when it comes, the
# first node to claim it runs the timers, once in the service. The claim is a lease: a
# node that dies holding it leaves the timers to the others this much later.
RING_TIMERS = "ring timers"
TIMER_LEASE = timedelta(seconds=5)


class RingServiceError(Refused):
    """Refused by ring routing."""


@dataclass(slots=True)
class _Change:
    """One routing change: its transaction, its time, the events it produced, and the
    record of a question it asked (saved with them)."""

    db: AsyncSession
    now: datetime
    events: list[domain.Event] = field(default_factory=list)
    new_record: Consultation | None = None


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


class RingService:
    """Ring routing: membership, asking, offers and their answers, live counts."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: Sessions,
        hub: Hub,
        scheduler: Scheduler,
        presence: PresenceService,
    ) -> None:
        self.config = settings
        self.clock = clock
        self.db = db
        self.hub = hub
        self.scheduler = scheduler
        self.presence = presence
        self.router = domain.RingRouter(settings.ring_not_responding_after)
        self.zone = ZoneInfo(settings.time_zone)
        self._lock = asyncio.Lock()
        self._last_cleanup = clock.now()
        # The state rows as this node last read or wrote them, and their version (None:
        # to be read before the next change); when to resync after a failed save.
        self._saved = self.router.parts()
        self._version: int | None = None
        self._resync_at: datetime | None = None
        # After another node claimed the timers: not before this (its change moves them on
        # here when it is read; if it died holding them, they are claimed again then).
        self._timers_held_until: datetime | None = None
        # Times this node ran the ring timers (tests and operators read it).
        self.timer_runs = 0
        # The timers' row as this node last wrote it (None: not known, written next time).
        self._timers_row: datetime | None = None
        # The router's next deadline as of its last change (the router finds it by walking
        # every open question; the scheduler asks for it at every wake).
        self._router_deadline: datetime | None = None
        self._configs: list[domain.RingConfig] = []
        self._ring_members: dict[str, set[int]] = {}
        # Supervisors of the units the ring's members work in: they see its callbacks.
        self._ring_supervisors: dict[str, set[int]] = {}
        # Supervisors of each ring member's own unit: they see that member's own figures.
        self._person_supervisors: dict[int, set[int]] = {}
        self._ring_kinds: dict[str, str] = {}
        # Called after every change of routing state (the load view listens).
        self.listeners: list[Callable[[], None]] = []
        # Called once a question is taken and its record saved (the consultation opens).
        self.accepted_listeners: list[Callable[[domain.QuestionAccepted], Awaitable[None]]] = []
        # Each member's availability as this node last told routing (a change that does
        # not move it takes no routing turn), and the members whose change is to be told
        # in the next turn (one turn for all those that changed meanwhile).
        self._last_free: dict[int, bool] = {}
        self._to_tell: set[int] = set()
        self._telling = False
        # With several nodes: whether this node led when it last looked (it tells routing of
        # every member then), and from when its presence has heard every live client.
        self._leading = False
        self._heard_all_at = clock.now() + timedelta(seconds=settings.heartbeat_timeout_seconds)
        # Phone hours of ring members, and whether they are within them (phone-hours rings).
        self._phone_hours: dict[int, list[dict[str, Any]]] = {}
        self._in_hours: dict[int, bool] = {}
        self._hours_change: datetime | None = None
        # Ring counts: what each ring's last ring_summary said, and whether to look again.
        self._counts_sent: dict[str, bytes] = {}
        self._counts_dirty_at: datetime | None = None
        self._count_watchers = 0
        # What each asker was last told about their open questions.
        self._status_sent: dict[str, tuple[Any, ...]] = {}
        # Each ring's queue signature when the askers were last told (RingRouter.
        # queue_signatures): a ring whose signature stayed and no event named is skipped.
        self._queues_told: dict[str, tuple[Any, ...]] = {}
        # The places each change of another node moved (`rings` messages, by version),
        # until this node reads that version.
        self._starts_heard: dict[int, dict[str, int]] = {}
        presence.listeners.append(self._on_presence)
        presence.node_listeners.append(self._on_nodes)
        hub.on("rings", self._on_rings_changed)
        scheduler.add("rings", self._next_deadline, self._on_time)
        scheduler.add("ring summaries", self._counts_deadline, self._publish_counts)
        scheduler.add("phone hours", lambda: self._hours_change, self._on_hours)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        async with self.db() as db:
            await self._load_rings(db)
        async with self._routing() as change:
            if self.config.several_nodes:
                # Other nodes may hold connections this one has not heard from yet: the
                # members' availability is taken from presence once it has heard every
                # live client (one heartbeat timeout), not from its empty view now.
                self._heard_all_at = change.now + timedelta(
                    seconds=self.config.heartbeat_timeout_seconds
                )
                self._resync_at = self._heard_all_at
            else:
                change.events += self._members_availability(change.now)
            change.events += self.router.tick(change.now)

    async def reload_rings(self) -> None:
        """After the ring configuration changed in the store."""
        async with self.db() as db:
            await self._load_rings(db)
        async with self._routing() as change:
            for ring_id, configured in self._ring_members.items():
                # Someone taken out of a ring stops being offered its questions.
                for person_id in set(self.router.members(ring_id)) - configured:
                    change.events += self.router.sign_out(ring_id, person_id, change.now)

    async def _load_rings(self, db: AsyncSession) -> None:
        rows = (await db.scalars(select(Ring))).all()
        members = (await db.scalars(select(RingMember).order_by(RingMember.position))).all()
        self._ring_members = {r.id: set() for r in rows}
        order: dict[str, list[int]] = {r.id: [] for r in rows}
        for m in members:
            self._ring_members.setdefault(m.ring_id, set()).add(m.person_id)
            order.setdefault(m.ring_id, []).append(m.person_id)
        self._configs = [ring_config(row, order[row.id]) for row in rows]
        for config in self._configs:
            self.router.add_ring(config)
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
        self._follow_members()

    def _members(self) -> set[int]:
        return {p for members in self._ring_members.values() for p in members}

    def _follow_members(self) -> None:
        """The first node alive tells routing of every member, so it follows them all
        (presence); another node follows only those its own connections show (its own
        people among them), not every member's every change."""
        leading = not self.config.several_nodes or self._leading
        self.presence.follow_members(self._members() if leading else set())

    def _next_deadline(self) -> datetime | None:
        deadlines = [self._last_cleanup + CLOSED_QUESTION_KEEP, self._timers_due()]
        deadlines.append(self._resync_at)
        return min(d for d in deadlines if d is not None)

    def _timers_due(self) -> datetime | None:
        deadline = self._router_deadline
        if deadline is None or self._timers_held_until is None:
            return deadline
        return max(deadline, self._timers_held_until)

    async def _on_time(self, now: datetime) -> None:
        if self._resync_at is not None and self._resync_at <= now:
            self._resync_at = None
            # Not waited for: it waits for presence to hear of every member first.
            self.scheduler.spawn(self._resync(), "ring resync")
        deadline = self._timers_due()
        if deadline is not None and deadline <= now and await self._claim_timers(now):
            async with self._routing() as change:
                change.events += self.router.tick(change.now)
        if now - self._last_cleanup >= CLOSED_QUESTION_KEEP:
            # Closed questions live on in the consultation log, not in the router (nor
            # in the state rows: they are left out of them).
            self._last_cleanup = now
            async with self._lock:
                self.router.purge_closed(now - CLOSED_QUESTION_KEEP)

    async def _claim_timers(self, now: datetime) -> bool:
        """Whether this node runs the timers due now: every node holds the same deadline,
        the first to claim its row runs them (the routing change that follows writes the
        next one); the others wait for that change, or for the lease to run out."""
        self._timers_held_until = now + TIMER_LEASE
        try:
            async with self.db.begin() as db:
                claimed = await repo.claim_deadline(db, RING_TIMERS, now, now + TIMER_LEASE)
        except Exception:
            log.exception("claiming the ring timers failed; trying again in %s", TIMER_LEASE)
            return False
        if claimed:
            self._timers_held_until = self._timers_row = None
            self.timer_runs += 1
        return claimed

    # ------------------------------------------------------------ presence

    def _on_presence(self, person_id: int, view: PresenceView) -> None:
        if not any(person_id in m for m in self._ring_members.values()):
            return
        hours = phone_hours_of(view)
        if not self._reports(person_id):
            # Another node tells routing (what this one told before may be old when it
            # tells again); the hours are kept for this node's own phone-hours timer.
            self._last_free.pop(person_id, None)
            self._in_hours.pop(person_id, None)
            if self._phone_hours.get(person_id) != hours:
                self._phone_hours[person_id] = hours
                self._next_hours_change(self.clock.now())
            return
        # A note, or available to busy, changes the view but not routing: no state write.
        free = is_free(view)
        if self._last_free.get(person_id) == free and self._phone_hours.get(person_id) == hours:
            return
        self._last_free[person_id] = free
        self._to_tell.add(person_id)
        if not self._telling:
            self._telling = True
            self.scheduler.spawn(self._tell_availability(), "ring availability")

    def _reports(self, person_id: int) -> bool:
        """Whether this node tells routing of the member's availability: the nodes
        holding the member's connections (which follow them for those), and the first
        node alive (which follows every member, for a member with no connection, or only
        on a node that died), once it has heard every live client. Not every node: each
        would follow every member and take the routing lock for a change another wrote."""
        if not self.config.several_nodes:
            return True
        return self._leads() or bool(self.hub.connections_of(person_id))

    def _leads(self) -> bool:
        """Whether this node is the first alive (PresenceService.leads), once it has heard
        every live client. A node that comes to lead tells routing every member's
        availability again: changes the node before it would have told may be missing."""
        leading = self._first_alive()
        if leading == self._leading:
            return leading
        self._leading = leading
        self._follow_members()
        if leading:
            self._resync_at = self.clock.now()
            self.scheduler.wake()
        else:
            # What it told of members it no longer tells of would be old if it led again.
            for person_id in [p for p in self._last_free if not self.hub.connections_of(p)]:
                del self._last_free[person_id]
                self._in_hours.pop(person_id, None)
        return leading

    def _first_alive(self) -> bool:
        return self.clock.now() >= self._heard_all_at and self.presence.leads()

    def _on_nodes(self) -> None:
        """Other nodes were given up: this one may lead now."""
        if self.config.several_nodes:
            self._leads()

    async def _tell_availability(self) -> None:
        """The members whose availability changed since the last turn, in one turn: as
        presence shows them now (a reconnect storm, or coming to lead, is not a turn per
        member). A turn that fails is followed by a resync, which tells them all."""
        try:
            async with self._routing() as change:
                people, self._to_tell, self._telling = self._to_tell, set(), False
                for person_id in sorted(people):
                    view = self.presence.shown(person_id)
                    change.events += self.router.set_availability(
                        person_id, is_free(view), None, change.now
                    )
                    change.events += self._hours_of(person_id, view, change.now)
        finally:
            if self._telling:
                # Failed before the turn began (the lock not taken): the resync tells them.
                self._to_tell.clear()
                self._telling = False

    # ------------------------------------------------------------ phone hours

    def _hours_of(self, person_id: int, view: PresenceView, now: datetime) -> list[domain.Event]:
        """Takes the person's phone hours from their presence view; routing hears whether
        they are within them now (asked only by phone-hours rings)."""
        self._phone_hours[person_id] = phone_hours_of(view)
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
        """Someone's phone hours began or ended: routing is told by the nodes that tell
        it of their availability (`_reports`), the others only move on to the next."""
        told = [p for p in self._phone_hours if self._reports(p)]
        if not told:
            self._next_hours_change(now)
            return
        async with self._routing() as change:
            for person_id in told:
                change.events += self._apply_hours(person_id, change.now)
            self._next_hours_change(change.now)

    # ------------------------------------------------------------ reading

    def rings_for(self, person_id: int) -> list[RingSummary]:
        """Every ring with its live counts, and whether this person may and did sign in."""
        now = self.clock.now()
        return [
            RingSummary(
                **msgspec.structs.asdict(self.ring_counts(config.id, now)),
                name=config.name,
                method=RoutingMethod(config.method),
                overflow_ring_id=config.overflow_ring_id,
                phone_hours_only=config.phone_hours_only,
                member=person_id in self._ring_members.get(config.id, set()),
                signed_in=person_id in self.router.members(config.id),
            )
            for config in self._listed_rings()
        ]

    def _listed_rings(self) -> list[domain.RingConfig]:
        """Rings people choose from: named-contact rings are reached by "contact my liaison"."""
        return [c for c in self.router.rings() if not c.id.startswith(NAMED_RING_PREFIX)]

    def ring_counts(self, ring_id: str, now: datetime) -> RingCounts:
        """A ring's counts for everyone: no names (the `ring_summary` frame)."""
        status = self.router.ring_status(ring_id, now)
        return RingCounts(
            id=ring_id,
            members_signed_in=len(status.members_signed_in),
            members_free=len(status.members_free),
            members_not_responding=len(status.members_not_responding),
            waiting=status.waiting + status.offered,
            oldest_wait_seconds=status.oldest_wait_seconds,
            estimated_wait_seconds=status.estimated_wait_seconds,
        )

    def member_state(self, person_id: int) -> RingMemberState:
        """The person's own standing in routing (`ring_member` frame)."""
        status = self.router.member_status(person_id)
        return RingMemberState(
            not_responding=bool(status and status.not_responding),
            missed_in_row=status.missed_in_row if status else 0,
        )

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
            # Every node holds the same state and tells its own subscribers: a round is
            # one frame per connection, however many nodes there are.
            frame = encode(server.RingSummaryFrame(ring=counts))
            self.hub.deliver_local(None, frame, topic=TOPIC)

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

    async def offers_for(self, person_id: int) -> list[server.Offer]:
        """Live offers ringing for this person (after a reload or a restart): the `offer`
        frame as it was sent, client reference included (it is on the record)."""
        status = self.router.member_status(person_id)
        if status is None or status.offered_question is None:
            return []
        question = self.router.question(status.offered_question)
        offer = question.live_offer_for(person_id)
        if offer is None:
            return []
        async with self.db() as db:
            client_ref = await db.scalar(
                select(Consultation.client_ref).where(Consultation.question_id == question.id)
            )
        return [
            server.Offer(
                question_id=question.id,
                ring_id=question.ring_id,
                ring_name=self.ring_name(question.ring_id),
                asker_id=question.asker_id,
                question=question.text,
                urgency=Urgency(question.urgency),
                client_ref=client_ref,
                expires_at=offer.expires_at.isoformat(),
            )
        ]

    def questions_of(self, person_id: int) -> list[QuestionStatus]:
        """The person's own questions still waiting for an answer."""
        return [self.question_status(q) for q in self.router.open_questions_of(person_id)]

    def question_status(self, question_id: str) -> QuestionStatus:
        return self._shown(self.router.queue_status(question_id, self.clock.now()))

    def _shown(self, status: domain.QueueStatus) -> QuestionStatus:
        return QuestionStatus(
            question_id=status.question_id,
            ring_id=status.ring_id,
            ring_name=self.ring_name(status.ring_id),
            state=status.state,
            position=status.position,
            queue_length=status.queue_length,
            members_signed_in=status.members_signed_in,
            members_free=status.members_free,
            waited_seconds=status.waited_seconds,
            estimated_wait_seconds=status.estimated_wait_seconds,
            deadline=status.deadline.isoformat() if status.deadline else None,
            ringing=status.ringing,
            accepted_by=status.accepted_by,
        )

    def ring_name(self, ring_id: str) -> str:
        config = self.router.config(ring_id)
        return ring_id if config is None else config.name

    # ------------------------------------------------------------ membership

    async def sign_in(self, person_id: int, ring_id: str, signed_in: bool) -> None:
        if person_id not in self._ring_members.get(ring_id, set()):
            raise RingServiceError("not_allowed", "you are not a member of that ring")
        async with self._routing() as change:
            now = change.now
            if signed_in:
                change.events += self.router.sign_in(ring_id, person_id, now)
                change.events += self.router.set_availability(
                    person_id, is_free(self.presence.shown(person_id)), None, now
                )
            else:
                change.events += self.router.sign_out(ring_id, person_id, now)

    # ------------------------------------------------------------ asking

    def client_reference(self, code: str | None) -> str | None:
        """The pseudonym of a personal identity code; None when no code was given."""
        return records.client_reference(code, self.config.secret_key)

    def _clean_question(self, text: str) -> str:
        if not text.strip():
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
        ring_id: str | None,
        text: str,
        client_code: str | None = None,
        urgency: Urgency = Urgency.NORMAL,
        legal_basis: LegalBasis | None = None,
        kind: ConsultationKind = ConsultationKind.RING,
    ) -> QuestionStatus:
        if ring_id is None or ring_id not in self._ring_members:
            raise RingServiceError("not_found", "no such ring")
        question = self._clean_question(text)
        client_ref = self.client_reference(client_code)
        question_id = secrets.token_hex(8)
        async with self._routing() as change:
            now = change.now
            level: domain.Urgency = "urgent" if urgency == Urgency.URGENT else "normal"
            change.events += self.router.ask(question_id, ring_id, asker_id, question, level, now)
            # The record and the router state that routes it are saved in one transaction.
            change.new_record = Consultation(
                question_id=question_id,
                kind=kind,
                ring_id=ring_id,
                asker_id=asker_id,
                question=question,
                urgency=urgency,
                client_ref=client_ref,
                legal_basis=legal_basis,
                state="waiting",
                asked_at=now,
                missed_offers=0,
            )
        return self.question_status(question_id)

    async def cancel(self, asker_id: int, question_id: str) -> None:
        async with self._routing() as change:
            try:
                change.events += self.router.cancel(question_id, asker_id, change.now)
            except domain.NotAsker:
                raise RingServiceError("not_allowed", "only the asker can cancel") from None
            except domain.UnknownQuestion:
                # Closed (its record says so) and no longer routed: nothing to cancel.
                if await repo.question_state(change.db, question_id, asker_id) is None:
                    raise RingServiceError("not_found", "no such question") from None

    async def accept(self, person_id: int, question_id: str) -> ConsultationRecord:
        async with self._routing() as change:
            outcome = self.router.accept(question_id, person_id, change.now)
            change.events += outcome.events
            reason: str | None = outcome.reason
            if reason == "unknown":
                # Not routed any more: its record tells whether it was taken or closed.
                state = await repo.question_state(change.db, question_id)
                if state is not None:
                    reason = "already_taken" if state in ("open", "closed") else "closed"
        if not outcome.won:
            reason = "not_found" if reason == "unknown" else reason
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
                select(Consultation).where(Consultation.question_id == question_id)
            )
        assert consultation is not None
        return consultation_record(consultation)

    async def decline(self, person_id: int, question_id: str) -> None:
        async with self._routing() as change:
            change.events += self.router.decline(question_id, person_id, change.now)

    async def resume(self, person_id: int) -> RingMemberState:
        """A member who was not responding takes questions again."""
        async with self._routing() as change:
            change.events += self.router.resume(person_id, change.now)
        return self.member_state(person_id)

    # ------------------------------------------------------------ for the services around

    async def consultation_ended(
        self, write: Callable[[AsyncSession, datetime], Awaitable[int | None]]
    ) -> None:
        """Runs `write` (the store change that ends a consultation; it returns the expert)
        in the routing transaction, and gives the expert's capacity back to routing in
        it: the record and the router move together, or not at all."""
        async with self._routing() as change:
            expert_id = await write(change.db, change.now)
            if expert_id:
                change.events += self.router.consultation_ended(expert_id, change.now)

    async def signed_in_by_configuration(self, ring_id: str, people: list[int]) -> None:
        """After a ring was written to the store by a service (a named-contact ring): the
        rings are read again and these members answer it whenever they are free (as
        presence shows them here: the caller looked them up, NamedContactService.ask)."""
        async with self.db() as db:
            await self._load_rings(db)
        async with self._routing() as change:
            for person_id in people:
                change.events += self.router.sign_in(ring_id, person_id, change.now)
                change.events += self.router.set_availability(
                    person_id, is_free(self.presence.shown(person_id)), None, change.now
                )

    # ------------------------------------------------------------ changes

    @contextlib.asynccontextmanager
    async def _routing(self) -> AsyncIterator[_Change]:
        """One routing change, in turn with every other on any node: the routing lock is
        taken and the state rows are read again if another node changed them; the caller
        routes (adding the events to the change); the pieces that changed are saved with
        what the events imply (ring_effects.EFFECTS) in the same transaction; then the
        people concerned are told, and the other nodes that the state moved on.

        If the transaction fails, the router goes back to the state last saved: nothing
        the database does not hold stays live (a question asked while the database failed
        would otherwise ring with no record behind it). A refusal (not the asker, already
        taken, a consultation closed meanwhile) only rolls back: the rows are as this node
        last read them, so nothing is read again and no member's availability is asked
        for again."""
        async with self._lock:
            try:
                async with self.db.begin() as db:
                    version = await repo.lock_routing(db, self.clock.now())
                    if version != self._version:
                        await self._read(db, version)
                    change = _Change(db, self.clock.now())
                    yield change
                    fx = await self._save(change)
                    changes = self.router.changes()
                    wrote = bool(changes) or changes.seq != self._saved.seq
                    if wrote:
                        await repo.save_routing(db, changes, version, change.now)
                    timers = self.router.next_deadline()
                    if timers is not None and timers != self._timers_row:
                        await repo.set_deadline(db, RING_TIMERS, timers)
            except Refused:
                self._restore()
                raise
            except BaseException:
                self._failed()
                raise
            self._remember(changes)
            self._router_deadline = timers
            self._timers_row = timers or self._timers_row
            if wrote:
                self._version = version + 1
            await self._tell(fx, change.events, wrote)

    async def _read(self, db: AsyncSession, version: int) -> None:
        """The state rows as another node left them: the rows written since the version
        this node holds are applied to its copy (or, when it holds none or one too old,
        every row replaces it); its timers follow (a claim another node held is over
        once its change is read). What the askers were told follows too: the statuses
        the writers looked at (the places their changes moved, heard with each version
        on the bus), or, when a version was not heard, those of every ring changed."""
        held = self._version
        changes = None
        if held is not None:
            changes = await repo.load_routing_changes(db, held, version)
        if changes is None:
            self._saved = await repo.load_routing(db)
            self._restore()
            self._status_sent.clear()
            starts: dict[str, int] | None = None
            touched: Iterable[str] = ()
        else:
            rings = self.router.apply(changes)
            self._remember(changes)
            self._router_deadline = self.router.next_deadline()
            starts = {}
            for v in range(held + 1, version + 1) if held is not None else ():
                heard = self._starts_heard.pop(v, None)
                if heard is None:
                    starts.update(dict.fromkeys(rings, 1))
                    break
                for ring_id, first in heard.items():
                    starts[ring_id] = min(starts.get(ring_id, first), first)
            touched = changes.questions.keys()
            for question_id, chain in changes.questions.items():
                if chain is None:
                    self._status_sent.pop(question_id, None)
        for v in [v for v in self._starts_heard if v <= version]:
            del self._starts_heard[v]
        self._version = version
        self._timers_held_until = self._timers_row = None
        for question_id, status in self._statuses_moved(touched, starts).items():
            if status.position is None:
                self._status_sent.pop(question_id, None)
            else:
                self._status_sent[question_id] = self._told(status)

    def _remember(self, changes: domain.RouterChanges) -> None:
        """The pieces as saved now (a failed change goes back to them)."""
        saved = self._saved
        saved.rings.update(changes.rings)
        saved.people.update(changes.people)
        for question_id, chain in changes.questions.items():
            if chain is None:
                saved.questions.pop(question_id, None)
            else:
                saved.questions[question_id] = chain
        if saved.seq != changes.seq:
            self._saved = replace(saved, seq=changes.seq)

    def _failed(self) -> None:
        """A change was not saved: the router as saved, read again before the next change
        (another node may have changed the rows), and members' availability reported
        again from presence once the database answers."""
        self._restore()
        self._version = None
        self._timers_row = None
        self._last_free.clear()
        self._in_hours.clear()
        self._resync_at = self.clock.now() + RESYNC_DELAY
        self.scheduler.wake()

    def _restore(self) -> None:
        """The router as last saved (or read), with this node's ring configuration."""
        self.router = domain.RingRouter.from_parts(
            self._saved, self.config.ring_not_responding_after
        )
        for config in self._configs:
            self.router.add_ring(config)
        self._router_deadline = self.router.next_deadline()

    async def _save(self, change: _Change) -> ring_effects.Effects:
        """What the change's events imply for the records (in its transaction)."""
        db, events, now = change.db, change.events, change.now
        fx = ring_effects.Effects(now, self.ring_name)
        if change.new_record is not None:
            db.add(change.new_record)
            await db.flush()
        await record_legs(db, self.router, events, now)
        ring_effects.apply(fx, events, await ring_effects.records_of(db, events))
        for accepted in fx.accepted:
            # The database's word on who took it, not only this node's router.
            if not await repo.accept_consultation(
                db, accepted.question_id, accepted.person_id, now
            ):
                raise RingServiceError("already_taken", "someone else took this question")
        return fx

    async def _tell(
        self, fx: ring_effects.Effects, events: list[domain.Event], wrote: bool
    ) -> None:
        starts = _event_starts(events)
        if wrote:
            # The places the events moved: the other nodes look at the same statuses.
            await self.hub.publish({"k": "rings", "v": self._version, "s": starts})
        for event in fx.accepted:
            for listener in self.accepted_listeners:
                await listener(event)
        for to, frame in fx.frames:
            await self.hub.send(to, frame)
        for person_id in fx.members:
            await self.hub.send([person_id], server.RingMember.of(self.member_state(person_id)))
        await self._send_statuses(fx.questions, starts)
        if events:
            self.scheduler.wake()
        self._counts_changed()
        self._changed()

    async def _on_rings_changed(self, message: dict[str, Any]) -> None:
        """Another node changed the routing state (this node's own changes come back too,
        and may come back after a later one: versions only grow)."""
        version = int(message["v"])
        if self._version is not None and version <= self._version:
            return
        self._starts_heard[version] = {str(r): int(p) for r, p in message.get("s", {}).items()}
        while len(self._starts_heard) > STARTS_KEPT:
            del self._starts_heard[min(self._starts_heard)]
        self.scheduler.spawn(self.refresh(), "ring state")

    async def refresh(self) -> None:
        """Reads the state rows again if they moved on (another node changed them, or
        the bus lost the message that said so): this node's deadlines, counts and load
        view follow. A snapshot, not the routing lock: every node hears of every change,
        and none of them waits for another's change to read the one before it."""
        async with self._lock:
            async with self.db.snapshot() as db:
                version = await repo.routing_version(db)
                if version is None or version == self._version:
                    return
                await self._read(db, version)
        self.scheduler.wake()
        self._counts_changed()
        self._changed()

    def _members_availability(self, now: datetime) -> list[domain.Event]:
        """The availability and phone hours of every member this node tells routing of
        (`_reports`), as presence shows them now."""
        events: list[domain.Event] = []
        for person_id in sorted(p for p in self._members() if self._reports(p)):
            view = self.presence.shown(person_id)
            free = is_free(view)
            self._last_free[person_id] = free
            events += self.router.set_availability(person_id, free, None, now)
            events += self._hours_of(person_id, view, now)
        return events

    async def _resync(self) -> None:
        """After a failed save, once a new node of several has heard every client, or when
        this node came to lead: the availability of every member it tells routing of, as
        presence has it once it has heard of them all (coming to lead, it starts to
        follow every member)."""
        if self.config.several_nodes:
            self._leads()
            # Told here, not again for coming to lead just now.
            self._resync_at = None
            await self.presence.complete(self._members())
        async with self._routing() as change:
            change.events += self._members_availability(change.now)
            change.events += self.router.tick(change.now)

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    async def _send_statuses(self, touched: set[str], starts: dict[str, int]) -> None:
        """Tells askers what changed for their questions: those the events were about,
        and every open question whose place, counts or estimate moved (an urgent question
        went ahead, one ahead was cancelled or answered, a member became free): the
        statuses `_statuses_moved` finds, of which only those that changed are shaped and
        sent. A longer queue alone is not a change: the asker's page counts the ring's
        waiting questions from its live counts (`ring_summary`)."""
        for question_id, status in self._statuses_moved(touched, starts).items():
            if status.position is None:
                # Closed: told once, and forgotten.
                self._status_sent.pop(question_id, None)
                await self._send_status(self._shown(status))
                continue
            fingerprint = self._told(status)
            if self._status_sent.get(question_id) == fingerprint:
                continue
            self._status_sent[question_id] = fingerprint
            # Shaped for the asker only when it changed.
            await self._send_status(self._shown(status))

    def _statuses_moved(
        self, touched: Iterable[str], starts: dict[str, int] | None
    ) -> dict[str, domain.QueueStatus]:
        """The statuses a change may have moved. A status depends on the ring's signature
        (RingRouter.queue_signatures) and the questions ahead of it: a ring whose
        signature moved is looked at whole, a ring a question left from its first place
        on, a ring a question entered from that question's place on (`_event_starts`;
        one asked at the back moves nobody), and the questions touched one by one (the
        closed among them too). With `starts` None, every ring with open questions."""
        now = self.clock.now()
        signatures = self.router.queue_signatures(now)
        moved = {r: 1 for r, sig in signatures.items() if self._queues_told.get(r) != sig}
        self._queues_told = signatures
        rings = None if starts is None else {**starts, **moved}
        statuses = self.router.queue_statuses(now, rings)
        for question_id in set(touched) - statuses.keys():
            with contextlib.suppress(domain.UnknownQuestion):
                statuses[question_id] = self.router.queue_status(question_id, now)
        return statuses

    def _told(self, status: domain.QueueStatus) -> tuple[Any, ...]:
        """What an asker was told of a question, to compare with what they would be told
        now (the time waited grows by itself, and the queue's length is the ring's: the
        page counts both up itself; neither alone is a change)."""
        return self.ring_name(status.ring_id), _status_values(status)

    async def _send_status(self, status: QuestionStatus) -> None:
        asker_id = self.router.asker(status.question_id)
        await self.hub.send([asker_id], server.QuestionStatusFrame(question=status))


def is_free(view: PresenceView) -> bool:
    # Busy comes from consultations, which the router counts as load itself.
    return view.status in (PresenceStatus.AVAILABLE, PresenceStatus.BUSY)


def phone_hours_of(view: PresenceView) -> list[dict[str, Any]]:
    """The view's phone hours as the domain's phone-hours rules read them."""
    hours: list[dict[str, Any]] = msgspec.to_builtins(view.phone_hours)
    return hours


# A status's values but the time waited and the queue's length (every other field's: one
# added later is compared too).
_status_values = operator.attrgetter(
    *(
        f.name
        for f in fields(domain.QueueStatus)
        if f.name not in ("waited_seconds", "queue_length")
    )
)
# Versions whose places are kept until read (a node further behind looks at whole rings).
STARTS_KEPT = 1000


def _event_starts(events: list[domain.Event]) -> dict[str, int]:
    """Per ring, the first place in its queue the events moved: a question left it (its
    first place on), or entered it (the new question's place on)."""
    starts: dict[str, int] = {}
    for event in events:
        if isinstance(event, domain.QuestionQueued):
            ring_id, first = event.ring_id, event.position
        elif isinstance(event, domain.QuestionOverflowed):
            ring_id, first = event.from_ring, 1
        elif isinstance(event, _LEFT_A_QUEUE):
            ring_id, first = event.ring_id, 1
        else:
            continue
        starts[ring_id] = min(starts.get(ring_id, first), first)
    return starts


# Events after which the questions behind one that left its ring's queue moved up (and
# QuestionOverflowed, from the ring it left).
_LEFT_A_QUEUE = (domain.QuestionAccepted, domain.QuestionCancelled, domain.QuestionTimedOut)


def _fingerprint(counts: RingCounts) -> bytes:
    # The oldest wait grows by itself: clients count it up; it is not a change.
    return msgspec.json.encode(msgspec.structs.replace(counts, oldest_wait_seconds=None))
