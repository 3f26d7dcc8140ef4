"""Ring routing (soittorinki) as a pure, sans-I/O state machine.

`RingRouter` takes inputs together with the current time, mutates its own state and
returns the events the caller must publish. It does no I/O, keeps no clocks and no
globals, and its state round-trips through JSON-able pieces (`parts`, one per ring,
member and open question; `changes` hands out those an input changed, `apply` takes
another node's) so waiting questions, live offers and timers survive a restart. An
input costs what it touches, not what is open (`RingRouter`). The service layer must
call it from one task at a time (it is not thread-safe), and on one state at a time
across nodes (docs/rings.md); that serialisation is what makes an accept exclusive. See
docs/rings.md for the model and the caller's contract.
"""

from __future__ import annotations

import bisect
import heapq
import math
import operator
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, TypeAlias, cast

from liaison.domain.identity import find_identity_codes

__all__ = [
    "AcceptOutcome",
    "AcceptRefusal",
    "DuplicateQuestion",
    "Event",
    "MemberEvent",
    "MemberNotResponding",
    "MemberResumed",
    "MemberStatus",
    "Method",
    "NotAsker",
    "Offer",
    "OfferDeclined",
    "OfferMade",
    "OfferMissed",
    "OfferOutcome",
    "OfferWithdrawn",
    "Question",
    "QuestionAccepted",
    "QuestionCancelled",
    "QuestionEvent",
    "QuestionOverflowed",
    "QuestionQueued",
    "QuestionState",
    "QuestionTimedOut",
    "QueueStatus",
    "RingConfig",
    "RingCounters",
    "RingError",
    "RingRouter",
    "RingStatus",
    "RouterChanges",
    "RouterParts",
    "UnknownQuestion",
    "UnknownRing",
    "UnredactedIdentityCode",
    "Urgency",
    "WithdrawReason",
]

Method = Literal["ring_all", "longest_idle", "round_robin", "serial"]
Urgency = Literal["normal", "urgent"]
QuestionState = Literal["waiting", "offered", "accepted", "cancelled", "timed_out", "overflowed"]
OfferOutcome = Literal["accepted", "declined", "missed", "withdrawn"]
WithdrawReason = Literal[
    "taken", "cancelled", "timed_out", "overflowed", "signed_out", "unavailable"
]
AcceptRefusal = Literal["already_taken", "not_offered", "closed", "unknown"]

METHODS: tuple[Method, ...] = ("ring_all", "longest_idle", "round_robin", "serial")
URGENCIES: tuple[Urgency, ...] = ("normal", "urgent")
OPEN_STATES: frozenset[str] = frozenset({"waiting", "offered"})

# Estimator: median of accepted waits in the ring, over at most this many recent
# answers and this window; fewer samples than the minimum means "unknown".
ESTIMATE_SAMPLES = 20
ESTIMATE_WINDOW_SECONDS = 2 * 60 * 60
ESTIMATE_MIN_SAMPLES = 3


class RingError(Exception):
    """Base class for the router's input errors. Raised before any state changes."""


class UnknownRing(RingError, KeyError):
    pass


class UnknownQuestion(RingError, KeyError):
    pass


class DuplicateQuestion(RingError, ValueError):
    pass


class NotAsker(RingError, PermissionError):
    pass


class UnredactedIdentityCode(RingError, ValueError):
    """Question text holds a personal identity code; redact it before asking."""


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _time(s: Any) -> datetime:
    return _aware(datetime.fromisoformat(str(s)))


def _opt_time(s: Any) -> datetime | None:
    return None if s is None else _time(s)


# --- configuration -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RingConfig:
    """One ring. `max_concurrent` is the consultation limit of each member in this ring."""

    id: str
    name: str
    method: Method = "ring_all"
    alert_seconds: int = 20
    queue_timeout_seconds: int = 180
    overflow_ring_id: str | None = None
    serial_order: Sequence[int] = ()
    max_concurrent: int = 1
    target_answer_seconds: int = 60
    # Members are offered this ring's questions only within their phone hours.
    phone_hours_only: bool = False

    def __post_init__(self) -> None:
        # Stored as a tuple so the frozen config really is immutable.
        object.__setattr__(self, "serial_order", tuple(self.serial_order))
        if not self.id:
            raise ValueError("ring id must not be empty")
        if self.method not in METHODS:
            raise ValueError(f"unknown routing method {self.method!r}")
        for name in ("alert_seconds", "queue_timeout_seconds", "max_concurrent"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.target_answer_seconds < 0:
            raise ValueError("target_answer_seconds must not be negative")
        if self.overflow_ring_id == self.id:
            raise ValueError("a ring cannot overflow into itself")
        if len(set(self.serial_order)) != len(self.serial_order):
            raise ValueError("serial_order has duplicates")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "method": self.method,
            "alert_seconds": self.alert_seconds,
            "queue_timeout_seconds": self.queue_timeout_seconds,
            "overflow_ring_id": self.overflow_ring_id,
            "serial_order": list(self.serial_order),
            "max_concurrent": self.max_concurrent,
            "target_answer_seconds": self.target_answer_seconds,
            "phone_hours_only": self.phone_hours_only,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RingConfig:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            method=cast(Method, data.get("method", "ring_all")),
            alert_seconds=int(data.get("alert_seconds", 20)),
            queue_timeout_seconds=int(data.get("queue_timeout_seconds", 180)),
            overflow_ring_id=data.get("overflow_ring_id"),
            serial_order=tuple(int(p) for p in data.get("serial_order", ())),
            max_concurrent=int(data.get("max_concurrent", 1)),
            target_answer_seconds=int(data.get("target_answer_seconds", 60)),
            phone_hours_only=bool(data.get("phone_hours_only", False)),
        )


# --- questions and offers ------------------------------------------------------------


@dataclass(slots=True)
class Offer:
    """One offer of a question to one member; `outcome` is None while it is live."""

    person_id: int
    offered_at: datetime
    expires_at: datetime
    outcome: OfferOutcome | None = None
    ended_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.outcome is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "offered_at": _iso(self.offered_at),
            "expires_at": _iso(self.expires_at),
            "outcome": self.outcome,
            "ended_at": _iso(self.ended_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Offer:
        return cls(
            person_id=int(data["person_id"]),
            offered_at=_time(data["offered_at"]),
            expires_at=_time(data["expires_at"]),
            outcome=cast("OfferOutcome | None", data.get("outcome")),
            ended_at=_opt_time(data.get("ended_at")),
        )


@dataclass(slots=True)
class Question:
    """A question's stay in one ring.

    Overflow closes this entry as "overflowed" and opens a new entry in the next ring
    with the same id and original `created_at`; `RingRouter.question_trail` lists them.
    Objects handed out by the router are copies: mutating them changes nothing.
    """

    id: str
    ring_id: str
    asker_id: int
    text: str
    urgency: Urgency
    created_at: datetime
    entered_ring_at: datetime
    deadline: datetime
    seq: int
    state: QuestionState = "waiting"
    offers: list[Offer] = field(default_factory=list)
    accepted_by: int | None = None
    accepted_at: datetime | None = None
    closed_at: datetime | None = None
    overflowed_from: str | None = None
    overflowed_to: str | None = None
    # Earliest moment a member who declined or missed may be offered it again.
    retry_at: datetime | None = None
    # ring_all: when the current round of offers began (None: when it entered the ring).
    round_started_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def live_offers(self) -> list[Offer]:
        return [o for o in self.offers if o.live]

    @property
    def missed_count(self) -> int:
        return sum(1 for o in self.offers if o.outcome == "missed")

    @property
    def declined_count(self) -> int:
        return sum(1 for o in self.offers if o.outcome == "declined")

    def live_offer_for(self, person_id: int) -> Offer | None:
        return next((o for o in self.offers if o.live and o.person_id == person_id), None)

    def queue_key(self) -> tuple[int, datetime, int]:
        # Urgent first, then oldest (original creation, so overflow keeps its place).
        return (0 if self.urgency == "urgent" else 1, self.created_at, self.seq)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ring_id": self.ring_id,
            "asker_id": self.asker_id,
            "text": self.text,
            "urgency": self.urgency,
            "created_at": _iso(self.created_at),
            "entered_ring_at": _iso(self.entered_ring_at),
            "deadline": _iso(self.deadline),
            "seq": self.seq,
            "state": self.state,
            "offers": [o.to_dict() for o in self.offers],
            "accepted_by": self.accepted_by,
            "accepted_at": _iso(self.accepted_at),
            "closed_at": _iso(self.closed_at),
            "overflowed_from": self.overflowed_from,
            "overflowed_to": self.overflowed_to,
            "retry_at": _iso(self.retry_at),
            "round_started_at": _iso(self.round_started_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Question:
        accepted_by = data.get("accepted_by")
        return cls(
            id=str(data["id"]),
            ring_id=str(data["ring_id"]),
            asker_id=int(data["asker_id"]),
            text=str(data["text"]),
            urgency=cast(Urgency, data["urgency"]),
            created_at=_time(data["created_at"]),
            entered_ring_at=_time(data["entered_ring_at"]),
            deadline=_time(data["deadline"]),
            seq=int(data["seq"]),
            state=cast(QuestionState, data["state"]),
            offers=[Offer.from_dict(o) for o in data.get("offers", [])],
            accepted_by=None if accepted_by is None else int(accepted_by),
            accepted_at=_opt_time(data.get("accepted_at")),
            closed_at=_opt_time(data.get("closed_at")),
            overflowed_from=data.get("overflowed_from"),
            overflowed_to=data.get("overflowed_to"),
            retry_at=_opt_time(data.get("retry_at")),
            round_started_at=_opt_time(data.get("round_started_at")),
        )

    def copy(self) -> Question:
        return Question.from_dict(self.to_dict())


# --- events --------------------------------------------------------------------------


class _EventBase:
    __slots__ = ()
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for f in fields(cast(Any, self)):
            value = getattr(self, f.name)
            data[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return data


@dataclass(frozen=True, slots=True)
class QuestionQueued(_EventBase):
    """The question entered a ring's queue (on ask or overflow) at `position`."""

    kind: ClassVar[str] = "question_queued"
    question_id: str
    ring_id: str
    asker_id: int
    position: int


@dataclass(frozen=True, slots=True)
class OfferMade(_EventBase):
    kind: ClassVar[str] = "offer_made"
    question_id: str
    ring_id: str
    person_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OfferDeclined(_EventBase):
    kind: ClassVar[str] = "offer_declined"
    question_id: str
    ring_id: str
    person_id: int


@dataclass(frozen=True, slots=True)
class OfferMissed(_EventBase):
    """The alert time ran out without an answer."""

    kind: ClassVar[str] = "offer_missed"
    question_id: str
    ring_id: str
    person_id: int


@dataclass(frozen=True, slots=True)
class OfferWithdrawn(_EventBase):
    kind: ClassVar[str] = "offer_withdrawn"
    question_id: str
    ring_id: str
    person_id: int
    reason: WithdrawReason


@dataclass(frozen=True, slots=True)
class QuestionAccepted(_EventBase):
    """`wait_seconds` counts from the original ask, across overflows."""

    kind: ClassVar[str] = "question_accepted"
    question_id: str
    ring_id: str
    asker_id: int
    person_id: int
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class QuestionOverflowed(_EventBase):
    kind: ClassVar[str] = "question_overflowed"
    question_id: str
    asker_id: int
    from_ring: str
    to_ring: str


@dataclass(frozen=True, slots=True)
class QuestionTimedOut(_EventBase):
    """Nobody answered in time and there is nowhere to overflow: offer a callback."""

    kind: ClassVar[str] = "question_timed_out"
    question_id: str
    ring_id: str
    asker_id: int
    callback_suggested: bool = True


@dataclass(frozen=True, slots=True)
class QuestionCancelled(_EventBase):
    kind: ClassVar[str] = "question_cancelled"
    question_id: str
    ring_id: str
    asker_id: int


@dataclass(frozen=True, slots=True)
class MemberNotResponding(_EventBase):
    """The member let `missed_in_row` offers ring out in a row: out of routing until
    they resume (or sign into a ring again)."""

    kind: ClassVar[str] = "member_not_responding"
    person_id: int
    missed_in_row: int


@dataclass(frozen=True, slots=True)
class MemberResumed(_EventBase):
    kind: ClassVar[str] = "member_resumed"
    person_id: int


# Events about one question; the member events concern a person only.
QuestionEvent: TypeAlias = (
    QuestionQueued
    | OfferMade
    | OfferDeclined
    | OfferMissed
    | OfferWithdrawn
    | QuestionAccepted
    | QuestionOverflowed
    | QuestionTimedOut
    | QuestionCancelled
)
MemberEvent: TypeAlias = MemberNotResponding | MemberResumed

Event: TypeAlias = QuestionEvent | MemberEvent


@dataclass(frozen=True, slots=True)
class AcceptOutcome:
    """Result of `accept`. `accepted_by` is the winner, also when this caller lost."""

    won: bool
    reason: AcceptRefusal | None
    accepted_by: int | None
    events: list[Event]


# --- status views --------------------------------------------------------------------


@dataclass(slots=True)
class RingCounters:
    """Running totals since the ring was added; the consultation log is the real record."""

    answered: int = 0
    answered_within_target: int = 0
    missed_offers: int = 0
    declined_offers: int = 0
    timed_out: int = 0
    overflowed_out: int = 0
    cancelled: int = 0

    def to_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RingCounters:
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in data.items() if k in names})


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """What the asker may see. Counts only: no member names."""

    question_id: str
    ring_id: str
    state: QuestionState
    position: int | None
    queue_length: int
    members_signed_in: int
    members_free: int
    waited_seconds: float
    estimated_wait_seconds: float | None
    deadline: datetime | None
    # Members it is ringing for right now (counts only).
    ringing: int = 0
    # Who took it (the asker is told whom they are talking to).
    accepted_by: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "ring_id": self.ring_id,
            "state": self.state,
            "position": self.position,
            "queue_length": self.queue_length,
            "members_signed_in": self.members_signed_in,
            "members_free": self.members_free,
            "waited_seconds": self.waited_seconds,
            "estimated_wait_seconds": self.estimated_wait_seconds,
            "deadline": _iso(self.deadline),
            "ringing": self.ringing,
            "accepted_by": self.accepted_by,
        }


@dataclass(frozen=True, slots=True)
class RingStatus:
    """Supervisor view of one ring: counts (its queue in order is `RingRouter.queue`)."""

    ring_id: str
    name: str
    method: Method
    members_signed_in: tuple[int, ...]
    members_free: tuple[int, ...]
    waiting: int
    offered: int
    oldest_wait_seconds: float | None
    estimated_wait_seconds: float | None
    target_answer_seconds: int
    counters: RingCounters
    # Signed in but out of routing after missing offers in a row, until they resume.
    members_not_responding: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "ring_id": self.ring_id,
            "name": self.name,
            "method": self.method,
            "members_signed_in": list(self.members_signed_in),
            "members_free": list(self.members_free),
            "waiting": self.waiting,
            "offered": self.offered,
            "oldest_wait_seconds": self.oldest_wait_seconds,
            "estimated_wait_seconds": self.estimated_wait_seconds,
            "target_answer_seconds": self.target_answer_seconds,
            "counters": self.counters.to_dict(),
            "members_not_responding": list(self.members_not_responding),
        }


@dataclass(frozen=True, slots=True)
class MemberStatus:
    person_id: int
    free: bool
    load: int
    idle_since: datetime
    rings: tuple[str, ...]
    offered_question: str | None
    missed_offers: int
    declined_offers: int
    missed_in_row: int = 0
    not_responding: bool = False
    in_phone_hours: bool = True


# --- internal state ------------------------------------------------------------------


@dataclass(slots=True)
class _Ring:
    config: RingConfig
    members: set[int] = field(default_factory=set)
    rr_last: int | None = None
    recent_waits: list[tuple[datetime, float]] = field(default_factory=list)
    counters: RingCounters = field(default_factory=RingCounters)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "members": sorted(self.members),
            "rr_last": self.rr_last,
            "recent_waits": [[at.isoformat(), wait] for at, wait in self.recent_waits],
            "counters": self.counters.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Ring:
        rr_last = data.get("rr_last")
        return cls(
            config=RingConfig.from_dict(data["config"]),
            members={int(p) for p in data.get("members", [])},
            rr_last=None if rr_last is None else int(rr_last),
            recent_waits=[(_time(at), float(w)) for at, w in data.get("recent_waits", [])],
            counters=RingCounters.from_dict(data.get("counters", {})),
        )


@dataclass(slots=True)
class _Person:
    id: int
    free: bool
    load: int
    # Last time the person took or finished a consultation, became free or signed in.
    idle_since: datetime
    missed_offers: int = 0
    declined_offers: int = 0
    # Offers rung out without an answer since the last accept, decline or resume.
    missed_in_row: int = 0
    not_responding: bool = False
    # Within their phone hours (only rings with phone_hours_only ask).
    in_phone_hours: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "free": self.free,
            "load": self.load,
            "idle_since": self.idle_since.isoformat(),
            "missed_offers": self.missed_offers,
            "declined_offers": self.declined_offers,
            "missed_in_row": self.missed_in_row,
            "not_responding": self.not_responding,
            "in_phone_hours": self.in_phone_hours,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Person:
        return cls(
            id=int(data["id"]),
            free=bool(data["free"]),
            load=int(data["load"]),
            idle_since=_time(data["idle_since"]),
            missed_offers=int(data.get("missed_offers", 0)),
            declined_offers=int(data.get("declined_offers", 0)),
            missed_in_row=int(data.get("missed_in_row", 0)),
            not_responding=bool(data.get("not_responding", False)),
            in_phone_hours=bool(data.get("in_phone_hours", True)),
        )


@dataclass(frozen=True, slots=True)
class RouterParts:
    """The router's state as the store keeps it: a JSON-able piece per ring (its signed-in
    members, counters, recent waits), per member (free, load, misses) and per open
    question (its entries and offers)."""

    seq: int
    rings: dict[str, dict[str, Any]]
    people: dict[int, dict[str, Any]]
    questions: dict[str, list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class RouterChanges:
    """The pieces that changed since the last `RingRouter.changes()`: a question that
    closed is None (its piece is to be deleted). What a change writes, and what another
    node applies (`RingRouter.apply`)."""

    seq: int
    rings: dict[str, dict[str, Any]]
    people: dict[int, dict[str, Any]]
    questions: dict[str, list[dict[str, Any]] | None]

    def __bool__(self) -> bool:
        return bool(self.rings or self.people or self.questions)


# --- the router ----------------------------------------------------------------------


class RingRouter:
    """All rings, their members and questions; see the module docstring.

    Every input method first applies the timers due at `now` (so a late `tick` never
    changes an outcome), then the input, then re-routes, and returns all resulting
    events in order. Errors (`RingError`, `ValueError`) are raised before any change.

    An input costs what it touches, not what is open: each ring keeps its queue in
    order, live offers are indexed by member, the timers are a heap, and a settle looks
    only at the rings and members the input changed (a ring nothing changed in would
    route exactly as it did last time: nothing).
    """

    def __init__(self, not_responding_after: int = 2) -> None:
        """`not_responding_after`: offers rung out in a row that take a member out of
        routing until they resume (0: never)."""
        if not_responding_after < 0:
            raise ValueError("not_responding_after must not be negative")
        self._rings: dict[str, _Ring] = {}
        self._people: dict[int, _Person] = {}
        # Question id -> its entries, one per ring visited; the last one is current.
        self._questions: dict[str, list[Question]] = {}
        # Each ring's open questions (their current entries) in queue order.
        self._queues: dict[str, list[Question]] = {}
        # Who has a live offer, of which questions (one at a time, across all rings).
        self._offered: dict[int, set[str]] = {}
        # Who asked which open questions (a page that opens is told of its own).
        self._asked: dict[int, set[str]] = {}
        # When something may fall due (an offer's expiry, a queue timeout, a re-offer),
        # with the question's id: a heap; an entry whose time no longer holds is skipped.
        self._timers: list[tuple[datetime, str]] = []
        # What the next settle looks at: rings to route, members whose live offers to
        # check (their state changed), rings whose live offers to check (their config).
        self._unrouted: set[str] = set()
        self._unchecked: set[int] = set()
        self._unchecked_rings: set[str] = set()
        # For changes(): what may have changed since, and the values last handed out.
        self._touched_people: set[int] = set()
        self._touched_questions: set[str] = set()
        self._rings_made: dict[str, tuple[Any, ...]] = {}
        self._people_made: dict[int, tuple[Any, ...]] = {}
        self._questions_made: dict[str, tuple[Any, ...]] = {}
        self._seq = 0
        self.not_responding_after = not_responding_after

    # -- configuration --

    def add_ring(self, config: RingConfig) -> None:
        """Add a ring, or replace the configuration of an existing one (members and
        queue are kept). Call `tick` afterwards to route with the new settings."""
        ring = self._rings.get(config.id)
        if ring is None:
            self._rings[config.id] = _Ring(config)
        elif ring.config != config:
            ring.config = config
            self._unchecked_rings.add(config.id)
        self._unrouted.add(config.id)

    def rings(self) -> list[RingConfig]:
        return [r.config for r in self._rings.values()]

    def config(self, ring_id: str) -> RingConfig | None:
        ring = self._rings.get(ring_id)
        return None if ring is None else ring.config

    # -- membership and availability --

    def sign_in(self, ring_id: str, person_id: int, now: datetime) -> list[Event]:
        ring = self._ring(ring_id)
        events = self._advance(_aware(now))
        person = self._people.get(person_id)
        if person is None:
            # Signing in states readiness; the caller refines it with set_availability.
            person = self._people[person_id] = _Person(person_id, True, 0, now)
        elif not self._rings_of(person_id):
            person.idle_since = now
        ring.members.add(person_id)
        self._changed(person_id, ring_id)
        # Signing in is an answer too: whoever does it is at the computer.
        events += self._resume(person)
        return events + self._settle(now)

    def resume(self, person_id: int, now: datetime) -> list[Event]:
        """A member who was not responding is back: into routing again."""
        events = self._advance(_aware(now))
        person = self._people.get(person_id)
        if person is not None:
            events += self._resume(person)
        return events + self._settle(now)

    def _resume(self, person: _Person) -> list[Event]:
        self._changed(person.id)
        person.missed_in_row = 0
        if not person.not_responding:
            return []
        person.not_responding = False
        return [MemberResumed(person.id)]

    def set_phone_hours(self, person_id: int, in_hours: bool, now: datetime) -> list[Event]:
        """Whether it is now within the person's phone hours (for phone_hours_only rings)."""
        events = self._advance(_aware(now))
        person = self._people.get(person_id)
        if person is None:
            person = self._people[person_id] = _Person(person_id, False, 0, now)
        person.in_phone_hours = in_hours
        self._changed(person_id)
        return events + self._settle(now)

    def sign_out(self, ring_id: str, person_id: int, now: datetime) -> list[Event]:
        ring = self._ring(ring_id)
        events = self._advance(_aware(now))
        ring.members.discard(person_id)
        self._changed(person_id, ring_id)
        return events + self._settle(now)

    def sign_out_everywhere(self, person_id: int, now: datetime) -> list[Event]:
        events = self._advance(_aware(now))
        for ring_id in self._rings_of(person_id):
            self._rings[ring_id].members.discard(person_id)
            self._changed(person_id, ring_id)
        return events + self._settle(now)

    def set_availability(
        self, person_id: int, free: bool, load: int | None, now: datetime
    ) -> list[Event]:
        """Report presence-derived availability for all of the person's rings.

        `load` (open consultations) replaces the router's own count; pass None to keep
        the count the router maintains from `accept` and `consultation_ended`.
        """
        if load is not None and load < 0:
            raise ValueError("load must not be negative")
        events = self._advance(_aware(now))
        person = self._people.get(person_id)
        if person is None:
            person = self._people[person_id] = _Person(person_id, free, load or 0, now)
        else:
            if (free and not person.free) or (load is not None and load < person.load):
                person.idle_since = now
            person.free = free
            if load is not None:
                person.load = load
        self._changed(person_id)
        return events + self._settle(now)

    def consultation_ended(self, person_id: int, now: datetime) -> list[Event]:
        events = self._advance(_aware(now))
        person = self._people.get(person_id)
        if person is not None:
            person.load = max(0, person.load - 1)
            person.idle_since = now
            self._changed(person_id)
        return events + self._settle(now)

    # -- questions --

    def ask(
        self,
        question_id: str,
        ring_id: str,
        asker_id: int,
        text: str,
        urgency: Urgency,
        now: datetime,
    ) -> list[Event]:
        """Queue a new question. Its text must already be redacted (identity.py)."""
        ring = self._ring(ring_id)
        _aware(now)
        if question_id in self._questions:
            raise DuplicateQuestion(question_id)
        if urgency not in URGENCIES:
            raise ValueError(f"unknown urgency {urgency!r}")
        if find_identity_codes(text):
            raise UnredactedIdentityCode("question text contains a personal identity code")
        events = self._advance(now)
        self._seq += 1
        entry = Question(
            id=question_id,
            ring_id=ring_id,
            asker_id=asker_id,
            text=text,
            urgency=urgency,
            created_at=now,
            entered_ring_at=now,
            deadline=now + timedelta(seconds=ring.config.queue_timeout_seconds),
            seq=self._seq,
        )
        self._questions[question_id] = [entry]
        self._enter(entry)
        events.append(QuestionQueued(question_id, ring_id, asker_id, self._position(entry)))
        return events + self._settle(now)

    def accept(self, question_id: str, person_id: int, now: datetime) -> AcceptOutcome:
        """Exclusive: of all accepts for one question, exactly one returns won=True."""
        events = self._advance(_aware(now))
        entries = self._questions.get(question_id)
        if not entries:
            return AcceptOutcome(False, "unknown", None, events)
        q = entries[-1]
        if q.state == "accepted":
            return AcceptOutcome(False, "already_taken", q.accepted_by, events)
        if not q.is_open:
            return AcceptOutcome(False, "closed", None, events)
        offer = q.live_offer_for(person_id)
        if offer is None:
            return AcceptOutcome(False, "not_offered", None, events)
        self._end(q, offer, "accepted", now)
        self._close(q, "accepted", now)
        q.accepted_by, q.accepted_at = person_id, now
        ring = self._rings[q.ring_id]
        in_ring = (now - q.entered_ring_at).total_seconds()
        ring.counters.answered += 1
        if in_ring <= ring.config.target_answer_seconds:
            ring.counters.answered_within_target += 1
        ring.recent_waits = [*ring.recent_waits, (now, in_ring)][-ESTIMATE_SAMPLES:]
        person = self._people[person_id]
        person.load += 1
        person.idle_since = now
        person.missed_in_row = 0
        wait = (now - q.created_at).total_seconds()
        events.append(QuestionAccepted(q.id, q.ring_id, q.asker_id, person_id, wait))
        events += self._withdraw_all(q, "taken", now)
        return AcceptOutcome(True, None, person_id, events + self._settle(now))

    def decline(self, question_id: str, person_id: int, now: datetime) -> list[Event]:
        """Refuse a live offer; routing moves on at once. No-op without a live offer."""
        events = self._advance(_aware(now))
        entries = self._questions.get(question_id)
        offer = entries[-1].live_offer_for(person_id) if entries else None
        if entries is None or offer is None:
            return events
        q = entries[-1]
        self._end(q, offer, "declined", now)
        self._people[person_id].declined_offers += 1
        self._people[person_id].missed_in_row = 0
        self._rings[q.ring_id].counters.declined_offers += 1
        events.append(OfferDeclined(q.id, q.ring_id, person_id))
        _sync_state(q)
        return events + self._settle(now)

    def cancel(self, question_id: str, asker_id: int, now: datetime) -> list[Event]:
        """The asker withdraws the question. No-op if it is already closed."""
        entries = self._questions.get(question_id)
        if not entries:
            raise UnknownQuestion(question_id)
        if entries[-1].asker_id != asker_id:
            raise NotAsker(question_id)
        events = self._advance(_aware(now))
        q = entries[-1]
        if not q.is_open:
            return events
        events += self._withdraw_all(q, "cancelled", now)
        self._close(q, "cancelled", now)
        self._rings[q.ring_id].counters.cancelled += 1
        events.append(QuestionCancelled(q.id, q.ring_id, q.asker_id))
        return events + self._settle(now)

    def tick(self, now: datetime) -> list[Event]:
        """Apply due timers (alert expiry, queue timeout, re-offer) and route."""
        return self._advance(_aware(now))

    def next_deadline(self) -> datetime | None:
        """Earliest moment `tick` could change anything; None when nothing is open.

        Never later than needed; it may be early (a tick then returns no events)."""
        while self._timers:
            at, question_id = self._timers[0]
            entries = self._questions.get(question_id)
            if entries and _holds(entries[-1], at):
                return at
            heapq.heappop(self._timers)  # the time was moved on or the question closed
        return None

    def purge_closed(self, before: datetime) -> list[str]:
        """Forget questions closed before `before` (log them first). Returns their ids."""
        gone = [
            qid
            for qid, entries in self._questions.items()
            if not entries[-1].is_open
            and entries[-1].closed_at is not None
            and entries[-1].closed_at < before
        ]
        for qid in gone:
            del self._questions[qid]
        return gone

    # -- queries (no side effects; they report the state as of the last input) --

    def question(self, question_id: str) -> Question:
        """A copy of the question's current entry."""
        entries = self._questions.get(question_id)
        if not entries:
            raise UnknownQuestion(question_id)
        return entries[-1].copy()

    def open_questions(self) -> list[Question]:
        """Copies of every question still waiting or ringing, in any ring, in the order
        they were asked."""
        current = (q for queue in self._queues.values() for q in queue)
        return [q.copy() for q in sorted(current, key=_asked)]

    def open_questions_of(self, asker_id: int) -> list[str]:
        """The ids of the asker's questions still waiting or ringing, in the order they
        were asked."""
        asked = (self._questions[qid][-1] for qid in self._asked.get(asker_id, ()))
        return [q.id for q in sorted(asked, key=_asked)]

    def question_trail(self, question_id: str) -> list[Question]:
        """Copies of every entry of the question, oldest ring first."""
        entries = self._questions.get(question_id)
        if not entries:
            raise UnknownQuestion(question_id)
        return [e.copy() for e in entries]

    def missed_offers(self, question_id: str) -> int:
        """Missed offers of a question across all rings it visited."""
        return sum(e.missed_count for e in self.question_trail(question_id))

    def members(self, ring_id: str) -> list[int]:
        return sorted(self._ring(ring_id).members)

    def member_status(self, person_id: int) -> MemberStatus | None:
        person = self._people.get(person_id)
        if person is None:
            return None
        offered = min(
            (self._questions[qid][-1] for qid in self._offered.get(person_id, ())),
            key=Question.queue_key,
            default=None,
        )
        return MemberStatus(
            person_id=person_id,
            free=person.free,
            load=person.load,
            idle_since=person.idle_since,
            rings=tuple(self._rings_of(person_id)),
            offered_question=None if offered is None else offered.id,
            missed_offers=person.missed_offers,
            declined_offers=person.declined_offers,
            missed_in_row=person.missed_in_row,
            not_responding=person.not_responding,
            in_phone_hours=person.in_phone_hours,
        )

    def queue_status(self, question_id: str, now: datetime) -> QueueStatus:
        _aware(now)
        entries = self._questions.get(question_id)
        if not entries:
            raise UnknownQuestion(question_id)
        q = entries[-1]
        ring = self._rings[q.ring_id]
        queue = self._queues.get(q.ring_id, [])
        position = self._position(q) if q.is_open else None
        free = len(self._free_members(ring))
        return self._status(q, ring, position, len(queue), free, now, self._median_wait(ring, now))

    def queue_statuses(
        self, now: datetime, rings: Mapping[str, int] | None = None
    ) -> dict[str, QueueStatus]:
        """The status of every open question, by id, from one pass over each ring's
        queue; with `rings`, only of those rings, each from the position given (1: the
        whole queue; a question's status depends on those ahead of it, not behind)."""
        _aware(now)
        statuses: dict[str, QueueStatus] = {}
        if rings is None:
            rings = dict.fromkeys(self._queues, 1)
        for ring_id, start in rings.items():
            queue = self._queues.get(ring_id)
            if not queue:
                continue
            ring = self._rings[ring_id]
            free = len(self._free_members(ring))
            median = self._median_wait(ring, now)
            first = max(start, 1)
            for position, q in enumerate(queue[first - 1 :], first):
                statuses[q.id] = self._status(q, ring, position, len(queue), free, now, median)
        return statuses

    def queue_signatures(self, now: datetime) -> dict[str, tuple[Any, ...]]:
        """For each ring with open questions, what all its questions' statuses share but
        the queue's length: its name, members signed in and free, and the recent waits'
        median (the estimate's base). While a ring's signature stays the same, a question's
        status changes only with an event about it or a question ahead of it (and the time
        waited)."""
        _aware(now)
        signatures: dict[str, tuple[Any, ...]] = {}
        for ring_id, queue in self._queues.items():
            if not queue:
                continue
            ring = self._rings[ring_id]
            signatures[ring_id] = (
                ring.config.name,
                len(ring.members),
                len(self._free_members(ring)),
                self._median_wait(ring, now),
            )
        return signatures

    def asker(self, question_id: str) -> int:
        """Who asked the question."""
        entries = self._questions.get(question_id)
        if not entries:
            raise UnknownQuestion(question_id)
        return entries[-1].asker_id

    def _status(
        self,
        q: Question,
        ring: _Ring,
        position: int | None,
        queue_length: int,
        free: int,
        now: datetime,
        median: float | None,
    ) -> QueueStatus:
        end = now if q.is_open else (q.closed_at or now)
        return QueueStatus(
            question_id=q.id,
            ring_id=q.ring_id,
            state=q.state,
            position=position,
            queue_length=queue_length,
            members_signed_in=len(ring.members),
            members_free=free,
            waited_seconds=(end - q.created_at).total_seconds(),
            estimated_wait_seconds=(
                None if position is None else self._estimate(ring, position, median)
            ),
            deadline=q.deadline if q.is_open else None,
            ringing=len(q.live_offers),
            accepted_by=q.accepted_by,
        )

    def ring_status(self, ring_id: str, now: datetime) -> RingStatus:
        """Counts of the ring: what they cost grows with its members and the offers
        ringing, not with the questions waiting."""
        ring = self._ring(ring_id)
        _aware(now)
        queue = self._queues.get(ring_id, [])
        offered = {
            qid
            for qids in self._offered.values()
            for qid in qids
            if self._questions[qid][-1].ring_id == ring_id
        }
        # The queue is urgent first, then oldest: the oldest of all heads one of the two.
        first_normal = bisect.bisect_left(queue, _FIRST_NORMAL, key=Question.queue_key)
        heads = [queue[i].created_at for i in (0, first_normal) if i < len(queue)]
        oldest = min(heads, default=None)
        return RingStatus(
            ring_id=ring_id,
            name=ring.config.name,
            method=ring.config.method,
            members_signed_in=tuple(sorted(ring.members)),
            members_free=tuple(self._free_members(ring)),
            waiting=len(queue) - len(offered),
            offered=len(offered),
            oldest_wait_seconds=None if oldest is None else (now - oldest).total_seconds(),
            estimated_wait_seconds=self._estimate(
                ring, len(queue) + 1, self._median_wait(ring, now)
            ),
            target_answer_seconds=ring.config.target_answer_seconds,
            counters=RingCounters.from_dict(ring.counters.to_dict()),
            members_not_responding=tuple(
                p
                for p in sorted(ring.members)
                if (person := self._people.get(p)) is not None and person.not_responding
            ),
        )

    def queue(self, ring_id: str) -> list[str]:
        """The ids of the ring's open questions, in queue order."""
        self._ring(ring_id)
        return [q.id for q in self._queues.get(ring_id, [])]

    # -- persistence --

    def parts(self) -> RouterParts:
        """The whole state in the pieces it is stored as: one per ring, member and open
        question. Closed questions are left out: nothing routes them any more, and their
        record is the consultation log."""
        return RouterParts(
            seq=self._seq,
            rings={ring_id: r.to_dict() for ring_id, r in self._rings.items()},
            people={p.id: p.to_dict() for p in sorted(self._people.values(), key=_person_id)},
            questions={
                qid: [e.to_dict() for e in entries]
                for qid, entries in self._questions.items()
                if entries[-1].is_open
            },
        )

    def changes(self) -> RouterChanges:
        """The pieces whose values changed since the last call (or since the router was
        made from parts): what a change saves. It looks at the rings, and at the members
        and questions the inputs since touched, not at everything open."""
        rings: dict[str, dict[str, Any]] = {}
        for ring_id, ring in self._rings.items():
            values = _ring_values(ring)
            if self._rings_made.get(ring_id) != values:
                self._rings_made[ring_id] = values
                rings[ring_id] = ring.to_dict()
        people: dict[int, dict[str, Any]] = {}
        for person_id in sorted(self._touched_people):
            person = self._people.get(person_id)
            if person is None:
                continue
            values = _person_values(person)
            if self._people_made.get(person_id) != values:
                self._people_made[person_id] = values
                people[person_id] = person.to_dict()
        questions: dict[str, list[dict[str, Any]] | None] = {}
        for question_id in sorted(self._touched_questions):
            entries = self._questions.get(question_id)
            if not entries or not entries[-1].is_open:
                if self._questions_made.pop(question_id, None) is not None:
                    questions[question_id] = None
                continue
            chain = tuple(map(_entry_values, entries))
            if self._questions_made.get(question_id) != chain:
                self._questions_made[question_id] = chain
                questions[question_id] = [e.to_dict() for e in entries]
        self._touched_people.clear()
        self._touched_questions.clear()
        return RouterChanges(self._seq, rings, people, questions)

    @classmethod
    def from_parts(cls, parts: RouterParts, not_responding_after: int = 2) -> RingRouter:
        """A router holding this state. Its first settle looks at every ring and member
        (the pieces might not have been saved settled)."""
        router = cls(not_responding_after)
        router.apply(RouterChanges(parts.seq, parts.rings, parts.people, dict(parts.questions)))
        router._unrouted = set(router._rings)
        router._unchecked = set(router._people)
        return router

    def apply(self, changes: RouterChanges) -> set[str]:
        """Pieces another node saved (settled: nothing to route) replace this router's;
        a ring's configuration stays this node's. Returns the rings whose queues or
        members may have changed."""
        self._seq = changes.seq
        touched: set[str] = set()
        for ring_id, data in changes.rings.items():
            ring = _Ring.from_dict(data)
            known = self._rings.get(ring_id)
            if known is not None:
                ring.config = known.config
            self._rings[ring_id] = ring
            self._rings_made[ring_id] = _ring_values(ring)
            touched.add(ring_id)
        for data in changes.people.values():
            person = _Person.from_dict(data)
            self._people[person.id] = person
            self._people_made[person.id] = _person_values(person)
            touched.update(self._rings_of(person.id))
        for question_id, chain in changes.questions.items():
            old = self._questions.pop(question_id, None)
            if old is not None and old[-1].is_open:
                self._unindex(old[-1])
                touched.add(old[-1].ring_id)
            self._questions_made.pop(question_id, None)
            entries = [Question.from_dict(e) for e in chain or ()]
            if not entries:
                continue
            self._questions[question_id] = entries
            self._questions_made[question_id] = tuple(map(_entry_values, entries))
            current = entries[-1]
            if current.is_open:
                self._index(current)
                touched.add(current.ring_id)
        return touched

    # -- internals --

    def _ring(self, ring_id: str) -> _Ring:
        ring = self._rings.get(ring_id)
        if ring is None:
            raise UnknownRing(ring_id)
        return ring

    def _rings_of(self, person_id: int) -> list[str]:
        return sorted(rid for rid, r in self._rings.items() if person_id in r.members)

    def _changed(self, person_id: int, ring_id: str | None = None) -> None:
        """A member's state changed (or their place in `ring_id`): the next settle checks
        their live offers and routes their rings again."""
        self._touched_people.add(person_id)
        self._unchecked.add(person_id)
        self._unrouted.update(self._rings_of(person_id))
        if ring_id is not None:
            self._unrouted.add(ring_id)

    def _index(self, entry: Question) -> None:
        """An open entry's place in its ring's queue, its live offers and its timers."""
        bisect.insort(self._queues.setdefault(entry.ring_id, []), entry, key=Question.queue_key)
        self._asked.setdefault(entry.asker_id, set()).add(entry.id)
        for o in entry.live_offers:
            self._offered.setdefault(o.person_id, set()).add(entry.id)
        for at in _times(entry):
            heapq.heappush(self._timers, (at, entry.id))

    def _unindex(self, entry: Question) -> None:
        queue = self._queues.get(entry.ring_id, [])
        i = bisect.bisect_left(queue, entry.queue_key(), key=Question.queue_key)
        if i < len(queue) and queue[i] is entry:
            del queue[i]
        asked = self._asked.get(entry.asker_id)
        if asked is not None:
            asked.discard(entry.id)
            if not asked:
                del self._asked[entry.asker_id]
        for o in entry.live_offers:
            self._unoffer(o.person_id, entry.id)

    def _unoffer(self, person_id: int, question_id: str) -> None:
        offered = self._offered.get(person_id)
        if offered is not None:
            offered.discard(question_id)
            if not offered:
                del self._offered[person_id]

    def _enter(self, entry: Question) -> None:
        """A question entered a ring (asked, or overflowed)."""
        self._index(entry)
        self._touched_questions.add(entry.id)
        self._unrouted.add(entry.ring_id)

    def _close(self, q: Question, state: QuestionState, now: datetime) -> None:
        """The entry leaves its ring's queue (its live offers are ended by the caller)."""
        self._unindex(q)
        q.state, q.closed_at, q.retry_at = state, now, None
        self._touched_questions.add(q.id)

    def _end(self, q: Question, o: Offer, outcome: OfferOutcome, at: datetime) -> None:
        """A live offer ends: its member is free of it, and may be offered another."""
        o.outcome, o.ended_at = outcome, at
        self._unoffer(o.person_id, q.id)
        self._touched_questions.add(q.id)
        self._changed(o.person_id, q.ring_id)

    def _position(self, q: Question) -> int:
        queue = self._queues[q.ring_id]
        return bisect.bisect_left(queue, q.queue_key(), key=Question.queue_key) + 1

    def _can_take(self, ring: _Ring, person_id: int) -> bool:
        person = self._people.get(person_id)
        return (
            person is not None
            and person_id in ring.members
            and person.free
            and not person.not_responding
            and (person.in_phone_hours or not ring.config.phone_hours_only)
            and person.load < ring.config.max_concurrent
        )

    def _free_members(self, ring: _Ring) -> list[int]:
        return [p for p in sorted(ring.members) if self._can_take(ring, p)]

    def _median_wait(self, ring: _Ring, now: datetime) -> float | None:
        """The median of the ring's recent waits (None: too few to tell); found once for
        all the statuses of a ring."""
        if not ring.members:
            return None
        samples = [
            wait
            for at, wait in ring.recent_waits
            if 0 <= (now - at).total_seconds() <= ESTIMATE_WINDOW_SECONDS
        ]
        if len(samples) < ESTIMATE_MIN_SAMPLES:
            return None
        return float(statistics.median(samples))

    def _estimate(self, ring: _Ring, position: int, median: float | None) -> float | None:
        # Median recent wait per "round" of answers; members answer in parallel, so
        # position p needs about ceil(p / members signed in) rounds.
        if median is None or not ring.members:
            return None
        return median * math.ceil(position / len(ring.members))

    def _advance(self, now: datetime) -> list[Event]:
        return self._process_timers(now) + self._settle(now)

    def _settle(self, now: datetime) -> list[Event]:
        return self._revalidate(now) + self._route(now)

    def _due(self, now: datetime) -> list[Question]:
        """The open entries with a timer due at `now`, in queue order."""
        due: dict[str, Question] = {}
        while self._timers and self._timers[0][0] <= now:
            _, question_id = heapq.heappop(self._timers)
            entries = self._questions.get(question_id)
            if entries and entries[-1].is_open:
                due[question_id] = entries[-1]
        return sorted(due.values(), key=Question.queue_key)

    def _process_timers(self, now: datetime) -> list[Event]:
        events: list[Event] = []
        due = self._due(now)
        for q in due:
            for o in q.live_offers:
                if o.expires_at <= now:
                    self._end(q, o, "missed", o.expires_at)
                    person = self._people[o.person_id]
                    person.missed_offers += 1
                    person.missed_in_row += 1
                    self._rings[q.ring_id].counters.missed_offers += 1
                    events.append(OfferMissed(q.id, q.ring_id, o.person_id))
                    limit = self.not_responding_after
                    if limit and person.missed_in_row >= limit and not person.not_responding:
                        # Nobody at the desk: the next question should not wait on them.
                        person.not_responding = True
                        events.append(MemberNotResponding(person.id, person.missed_in_row))
            _sync_state(q)
            if q.retry_at is not None and q.retry_at <= now:
                # Its pause is over: routing looks at it again (and sets a new one if due).
                q.retry_at = None
                self._touched_questions.add(q.id)
                self._unrouted.add(q.ring_id)
        for q in due:
            if q.is_open and q.deadline <= now:
                events += self._expire(q, now)
        return events

    def _expire(self, q: Question, now: datetime) -> list[Event]:
        ring = self._rings[q.ring_id]
        target = ring.config.overflow_ring_id
        visited = {e.ring_id for e in self._questions[q.id]}
        # Overflow only to a known ring this question has not been in: no cycles.
        if target is None or target not in self._rings or target in visited:
            events = self._withdraw_all(q, "timed_out", now)
            self._close(q, "timed_out", now)
            ring.counters.timed_out += 1
            events.append(QuestionTimedOut(q.id, q.ring_id, q.asker_id))
            return events
        events = self._withdraw_all(q, "overflowed", now)
        self._close(q, "overflowed", now)
        q.overflowed_to = target
        ring.counters.overflowed_out += 1
        to_ring = self._rings[target]
        entry = Question(
            id=q.id,
            ring_id=target,
            asker_id=q.asker_id,
            text=q.text,
            urgency=q.urgency,
            created_at=q.created_at,
            entered_ring_at=now,
            deadline=now + timedelta(seconds=to_ring.config.queue_timeout_seconds),
            seq=q.seq,
            overflowed_from=q.ring_id,
        )
        self._questions[q.id].append(entry)
        self._enter(entry)
        events.append(QuestionOverflowed(q.id, q.asker_id, q.ring_id, target))
        events.append(QuestionQueued(q.id, target, q.asker_id, self._position(entry)))
        return events

    def _withdraw_all(self, q: Question, reason: WithdrawReason, now: datetime) -> list[Event]:
        events: list[Event] = []
        for o in q.live_offers:
            self._end(q, o, "withdrawn", now)
            events.append(OfferWithdrawn(q.id, q.ring_id, o.person_id, reason))
        _sync_state(q)
        return events

    def _revalidate(self, now: datetime) -> list[Event]:
        """Withdraw live offers from members who are no longer able to take them: the
        offers of the members and rings that changed since the last settle."""
        people, self._unchecked = self._unchecked, set()
        rings, self._unchecked_rings = self._unchecked_rings, set()
        questions = {
            qid: self._questions[qid][-1] for p in people for qid in self._offered.get(p, ())
        }
        for ring_id in rings:
            questions.update((q.id, q) for q in self._queues.get(ring_id, ()) if q.live_offers)
        events: list[Event] = []
        for q in sorted(questions.values(), key=Question.queue_key):
            ring = self._rings[q.ring_id]
            for o in q.live_offers:
                if o.person_id not in ring.members:
                    reason: WithdrawReason = "signed_out"
                elif not self._can_take(ring, o.person_id):
                    reason = "unavailable"
                else:
                    continue
                self._end(q, o, "withdrawn", now)
                events.append(OfferWithdrawn(q.id, q.ring_id, o.person_id, reason))
            _sync_state(q)
        # Withdrawing changed nobody's ability to take a question: nothing to look at again.
        self._unchecked.clear()
        return events

    def _route(self, now: datetime) -> list[Event]:
        """Offers the open questions of the rings that changed, in the order of all open
        questions (urgent first, then oldest), one outstanding offer per member at a time
        across all rings. A ring whose members able to answer all have an offer ringing
        is left at once: nothing further in its queue could be offered."""
        rings, self._unrouted = self._unrouted, set()
        # Who could take a question of each ring, as of this pass (offers made in it do
        # not change that; having an offer ringing does).
        takers: dict[str, list[int]] = {}
        heads: list[tuple[tuple[int, datetime, int], str, int]] = []
        for ring_id in rings:
            queue = self._queues.get(ring_id)
            ring = self._rings.get(ring_id)
            if not queue or ring is None:
                continue
            able = [p for p in sorted(ring.members) if self._can_take(ring, p)]
            if able:
                takers[ring_id] = able
                heads.append((queue[0].queue_key(), ring_id, 0))
        heapq.heapify(heads)
        events: list[Event] = []
        while heads:
            _, ring_id, i = heapq.heappop(heads)
            able = takers[ring_id]
            if all(p in self._offered for p in able):
                continue
            queue = self._queues[ring_id]
            q = queue[i]
            events += self._route_one(q, able, now)
            if i + 1 < len(queue):
                heapq.heappush(heads, (queue[i + 1].queue_key(), ring_id, i + 1))
        return events

    def _route_one(self, q: Question, able: list[int], now: datetime) -> list[OfferMade]:
        ring = self._rings[q.ring_id]
        retry_at = q.retry_at
        q.retry_at = None
        try:
            return self._offers_for(q, ring, able, now)
        finally:
            if q.retry_at != retry_at:
                self._touched_questions.add(q.id)
                if q.retry_at is not None:
                    heapq.heappush(self._timers, (q.retry_at, q.id))

    def _offers_for(
        self, q: Question, ring: _Ring, able: list[int], now: datetime
    ) -> list[OfferMade]:
        config = ring.config
        has_live = bool(q.live_offers)
        if has_live and config.method != "ring_all":
            return []
        eligible = [p for p in able if p not in self._offered and p != q.asker_id]
        pause = timedelta(seconds=config.alert_seconds)
        if config.method == "ring_all":
            pool = self._ring_all_pool(q, eligible, has_live, pause, now)
            if not pool:
                return []
            return self._offer(q, ring, pool, now)
        refusals = _refusals(q)
        pool = [p for p in eligible if p not in refusals]
        if not pool:
            if has_live:
                return []
            # Nobody new: re-offer to those who declined or missed, fewest refusals
            # first, each only after a pause of alert_seconds since their refusal.
            ready = [p for p in eligible if refusals[p][1] + pause <= now]
            if not ready:
                q.retry_at = min((refusals[p][1] + pause for p in eligible), default=None)
                return []
            fewest = min(refusals[p][0] for p in ready)
            pool = [p for p in ready if refusals[p][0] == fewest]
        chosen = self._pick(ring, pool)
        if config.method == "round_robin":
            ring.rr_last = chosen
        return self._offer(q, ring, [chosen], now)

    def _ring_all_pool(
        self, q: Question, eligible: list[int], has_live: bool, pause: timedelta, now: datetime
    ) -> list[int]:
        """ring_all rings in rounds: everyone eligible who has not refused in this round.
        Once nothing rings and every eligible member has refused, the next round starts
        `pause` after the last refusal, and rings all of them together again."""
        refused = _refusals(q, since=q.round_started_at or q.entered_ring_at)
        pool = [p for p in eligible if p not in refused]
        if pool or has_live or not eligible:
            return pool
        next_round = max(at for _, at in refused.values()) + pause
        if now < next_round:
            q.retry_at = next_round
            return []
        q.round_started_at = now
        return eligible

    def _offer(self, q: Question, ring: _Ring, people: list[int], now: datetime) -> list[OfferMade]:
        expires = now + timedelta(seconds=ring.config.alert_seconds)
        events: list[OfferMade] = []
        for p in people:
            q.offers.append(Offer(p, now, expires))
            self._offered.setdefault(p, set()).add(q.id)
            events.append(OfferMade(q.id, q.ring_id, p, expires))
        heapq.heappush(self._timers, (expires, q.id))
        self._touched_questions.add(q.id)
        _sync_state(q)
        return events

    def _pick(self, ring: _Ring, pool: Sequence[int]) -> int:
        method = ring.config.method
        if method == "longest_idle":
            return min(pool, key=lambda p: (self._people[p].idle_since, p))
        if method == "round_robin":
            ordered = sorted(pool)
            last = ring.rr_last
            return next((p for p in ordered if last is None or p > last), ordered[0])
        # serial: configured order first, then everyone else by id.
        return _first_in_order(ring.config.serial_order, pool)


def _first_in_order(order: Iterable[int], pool: Sequence[int]) -> int:
    members = set(pool)
    return next((p for p in order if p in members), min(pool))


def _refusals(q: Question, since: datetime | None = None) -> dict[int, tuple[int, datetime]]:
    """Per member: how often they declined or missed this entry (offered since `since`),
    and when last."""
    result: dict[int, tuple[int, datetime]] = {}
    for o in q.offers:
        if since is not None and o.offered_at < since:
            continue
        if o.outcome in ("declined", "missed") and o.ended_at is not None:
            count, _ = result.get(o.person_id, (0, o.ended_at))
            result[o.person_id] = (count + 1, o.ended_at)
    return result


# Before every normal question's queue key, after every urgent one's.
_FIRST_NORMAL = (1, datetime.min.replace(tzinfo=UTC), 0)


def _times(q: Question) -> list[datetime]:
    """When something may fall due for an open entry."""
    times = [q.deadline, *(o.expires_at for o in q.live_offers)]
    if q.retry_at is not None:
        times.append(q.retry_at)
    return times


def _holds(q: Question, at: datetime) -> bool:
    """Whether a timer at `at` is still one of the open entry's."""
    return q.is_open and at in _times(q)


# Every field's value, for changes() to see whether a piece changed. Taken from the
# classes' fields, so a field added later is compared too; the values are immutable
# (times, text, numbers), except a question's offers and a ring's members, waits and
# counters, whose values are taken one by one.
_person_values = operator.attrgetter(*(f.name for f in fields(_Person)))
_person_id = operator.attrgetter("id")
_asked = operator.attrgetter("seq")
_offer_values = operator.attrgetter(*(f.name for f in fields(Offer)))
_question_values = operator.attrgetter(*(f.name for f in fields(Question) if f.name != "offers"))
_counter_values = operator.attrgetter(*(f.name for f in fields(RingCounters)))


def _entry_values(q: Question) -> tuple[Any, ...]:
    return (_question_values(q), tuple(map(_offer_values, q.offers)))


def _ring_values(r: _Ring) -> tuple[Any, ...]:
    return (
        r.config,
        frozenset(r.members),
        r.rr_last,
        tuple(r.recent_waits),
        _counter_values(r.counters),
    )


def _sync_state(q: Question) -> None:
    if q.is_open:
        q.state = "offered" if q.live_offers else "waiting"
