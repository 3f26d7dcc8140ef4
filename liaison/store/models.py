"""Tables. Times are stored as timezone-aware UTC; multi-valued fields as JSON lists."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from liaison.domain import vocabulary
from liaison.domain.directory import match_key


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out, also on SQLite, which keeps no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    # "kela" or "social_services"
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # insurance_district, benefit_team, customer_service, wellbeing_county, municipality
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(String(200), default="")
    # match_key(area), set whenever area is: areas are compared by this, never lower().
    area_key: Mapped[str] = mapped_column(String(200), default="")

    @validates("area")
    def _keep_area_key(self, _: str, area: str) -> str:
        self.area_key = match_key(area)
        return area


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    benefits: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    work_phone: Mapped[str] = mapped_column(String(50), default="")
    ask_me_about: Mapped[str] = mapped_column(Text, default="")
    # Lower-cased text of everything searchable, kept in step by the repository.
    search_text: Mapped[str] = mapped_column(Text, default="")
    photo_version: Mapped[int] = mapped_column(Integer, default=0)


class Photo(Base):
    __tablename__ = "photos"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(50))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(5), nullable=True)
    created_at: Mapped[datetime]


class Session(Base):
    __tablename__ = "sessions"
    # sha256 of the cookie value: a stolen database does not yield live sessions.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class PresenceSettings(Base):
    """What a person sets about their availability; live connection state is not stored."""

    __tablename__ = "presence_settings"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    # "available", "away" or "dnd": the person's own choice, merged with live clients.
    manual_status: Mapped[str] = mapped_column(String(16), default="available")
    dnd_until: Mapped[datetime | None] = mapped_column(nullable=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    out_of_office_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    out_of_office_note: Mapped[str] = mapped_column(String(200), default="")
    # [{"day": 0..6, "start": "09:00", "end": "11:00"}], Monday = 0
    phone_hours: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    last_seen_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    # "direct" or "group"
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200), default="")
    # "small:large" person ids, so a pair has exactly one direct conversation.
    direct_key: Mapped[str | None] = mapped_column(String(50), unique=True, nullable=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    created_by: Mapped[int] = mapped_column(ForeignKey("people.id"))


class ConversationMember(Base):
    __tablename__ = "conversation_members"
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True, index=True)
    last_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    joined_at: Mapped[datetime]


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        # The client-chosen id makes a resend after a reconnect idempotent.
        UniqueConstraint("sender_id", "client_id"),
        Index("ix_messages_created_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Ring(Base):
    """A queue answered by whoever of its members is signed in and free."""

    __tablename__ = "rings"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # "benefit" (one per benefit) or "liaison" (municipal liaisons of one area)
    kind: Mapped[str] = mapped_column(String(16))
    benefit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    area: Mapped[str] = mapped_column(String(200), default="")
    area_key: Mapped[str] = mapped_column(String(200), default="")
    method: Mapped[str] = mapped_column(String(16), default="ring_all")
    alert_seconds: Mapped[int] = mapped_column(Integer, default=20)
    queue_timeout_seconds: Mapped[int] = mapped_column(Integer, default=180)
    overflow_ring_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    max_concurrent: Mapped[int] = mapped_column(Integer, default=1)
    target_answer_seconds: Mapped[int] = mapped_column(Integer, default=60)
    # Members are offered questions only within their phone hours.
    phone_hours_only: Mapped[bool] = mapped_column(Boolean, default=False)

    @validates("area")
    def _keep_area_key(self, _: str, area: str) -> str:
        self.area_key = match_key(area)
        return area


class RingMember(Base):
    __tablename__ = "ring_members"
    ring_id: Mapped[str] = mapped_column(ForeignKey("rings.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    # Order for the serial routing method. Who is signed in lives in the router's state.
    position: Mapped[int] = mapped_column(Integer, default=0)


class RingRouting(Base):
    """The one row every routing change locks first (all nodes take turns on it) and
    whose version it raises when it wrote: a node whose copy of the routing state is of
    an older version reads the state rows again before it routes."""

    __tablename__ = "ring_routing"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The router's question counter (the order of questions asked at the same moment).
    seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class Deadline(Base):
    """A timer of the whole service, not of one node: the node that comes first when it
    is due claims it (moving `due_at` on, the row locked with SKIP LOCKED so that no other
    node waits on it) and does its work; the others find it not due."""

    __tablename__ = "deadlines"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    due_at: Mapped[datetime]


class RingState(Base):
    """A ring's routing state: members signed in, counters, recent waits (RouterParts)."""

    __tablename__ = "ring_states"
    ring_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The routing version that wrote it (RingRouting.version): others read what is newer.
    version: Mapped[int] = mapped_column(Integer, default=0, index=True)


class RingMemberState(Base):
    """A member's routing state: free, load, offers missed and declined (RouterParts)."""

    __tablename__ = "ring_member_states"
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=0, index=True)


class RingQuestion(Base):
    """An open ring question: its entry in each ring visited and their offers, timers
    included (RouterParts). Deleted when the question closes; its record is the
    consultation."""

    __tablename__ = "ring_questions"
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=0, index=True)


class RingQuestionGone(Base):
    """A ring question that closed, and the routing version that deleted its row: a node
    following the changes since an older version drops it. Kept for a window of versions
    (repositories.GONE_KEPT); a node further behind reads every row again."""

    __tablename__ = "ring_questions_gone"
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)


class NamedContact(Base):
    """Named liaisons of an area, in order: Kela's for social services and the reverse."""

    __tablename__ = "named_contacts"
    __table_args__ = (UniqueConstraint("area", "side", "person_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    area: Mapped[str] = mapped_column(String(200))
    area_key: Mapped[str] = mapped_column(String(200), default="")
    # "kela": Kela liaisons for this area's social services; "social_services": the reverse.
    side: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)

    @validates("area")
    def _keep_area_key(self, _: str, area: str) -> str:
        self.area_key = match_key(area)
        return area


class Consultation(Base):
    """One record per ring question, named-contact request or callback; no client identity."""

    __tablename__ = "consultations"
    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64), unique=True)
    # "ring", "named" or "callback"
    kind: Mapped[str] = mapped_column(String(16))
    ring_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    asker_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    third_party_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True
    )
    # Identity codes are replaced by their pseudonyms before this is stored.
    question: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    client_ref: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    legal_basis: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # waiting, open, closed, cancelled, timed_out
    state: Mapped[str] = mapped_column(String(16))
    asked_at: Mapped[datetime] = mapped_column(index=True)
    offered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    missed_offers: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The asker's own note on the consultation (the expert records outcome and topic).
    asker_note: Mapped[str] = mapped_column(Text, default="")
    # Idleness (liaison/domain/consultations.py): "keep open" chosen, last reminder given.
    kept_open_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(nullable=True)


class CallbackRequest(Base):
    __tablename__ = "callback_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultations.id"), nullable=True
    )
    created_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    owner_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    owner_ring_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    client_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # open, claimed, done, could_not_reach
    state: Mapped[str] = mapped_column(String(16), index=True)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RingLeg(Base):
    """One question's stay in one ring: the load view's record. No text, client or asker.

    Written with the router state that it describes; see docs/load.md."""

    __tablename__ = "ring_legs"
    __table_args__ = (
        UniqueConstraint("question_id", "ring_id", "entered_at"),
        Index("ix_ring_legs_ring_entered", "ring_id", "entered_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64), index=True)
    ring_id: Mapped[str] = mapped_column(String(64))
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    asked_at: Mapped[datetime]
    entered_at: Mapped[datetime]
    first_offered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # waiting, answered, cancelled, timed_out, overflowed
    outcome: Mapped[str] = mapped_column(String(16), default="waiting")
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    # From the ask until the leg ended (answered: until the answer); None while waiting.
    wait_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    missed_offers: Mapped[int] = mapped_column(Integer, default=0)
    declined_offers: Mapped[int] = mapped_column(Integer, default=0)
    target_answer_seconds: Mapped[int] = mapped_column(Integer, default=60)


class RingOffer(Base):
    """One ended offer of a question to one member: per-person figures come from these."""

    __tablename__ = "ring_offers"
    __table_args__ = (Index("ix_ring_offers_ring_ended", "ring_id", "ended_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64))
    ring_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    offered_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    # accepted, declined, missed, withdrawn
    outcome: Mapped[str] = mapped_column(String(16))
    # Why a withdrawn offer ended (taken, cancelled, timed_out, overflowed, signed_out,
    # unavailable); None for the other outcomes.
    reason: Mapped[str | None] = mapped_column(String(16), nullable=True)


class LoginThrottle(Base):
    """Failed logins of one key (liaison/domain/throttle.py): a username or an address."""

    __tablename__ = "login_throttles"
    id: Mapped[int] = mapped_column(primary_key=True)
    # "username" or "address"
    kind: Mapped[str] = mapped_column(String(16))
    # The username as typed (lower-cased, identity codes replaced by their pseudonyms), or
    # the client's address.
    key: Mapped[str] = mapped_column(String(120))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    __table_args__ = (UniqueConstraint("kind", "key"),)


class AuditEvent(Base):
    """Logins and identity-code lookups, for administrators (docs/accounts.md). Never a
    personal identity code: a lookup records its kind and the client's pseudonym."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # login_succeeded, login_failed, login_refused, locked, unlocked, client_lookup,
    # people_search
    kind: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The username (as typed, for a failed login) and the client's address.
    username: Mapped[str] = mapped_column(String(120), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    # What was done: a lock's key, a lookup's client reference and result count.
    detail: Mapped[str] = mapped_column(String(200), default="")


# Every column that holds a closed vocabulary accepts only its values: the same StrEnum
# the protocol and the interface use (liaison/domain/vocabulary.py; migration 0007).
for _table, _column, _enum, _nullable in vocabulary.STORED:
    Base.metadata.tables[_table].append_constraint(
        CheckConstraint(
            vocabulary.check_sql(_column, _enum, _nullable),
            name=vocabulary.check_name(_table, _column),
        )
    )
