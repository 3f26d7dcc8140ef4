"""Every closed vocabulary of Liaison, once.

The protocol's models (liaison/web/frames.py), the database's CHECK constraints
(liaison/store/models.py, migration 0007), the interface's labels (liaison/web/labels.py)
and the generated reference tables (scripts/docs) all take their values from here. A
`StrEnum` member is a `str`, so stored rows, JSON and comparisons with plain text keep
working unchanged. Each class's docstring is what the generated docs say about it.
"""

from __future__ import annotations

from enum import StrEnum


class PresenceStatus(StrEnum):
    """A person's presence status as others see it."""

    AVAILABLE = "available"
    BUSY = "busy"
    DND = "dnd"
    AWAY = "away"
    OFFLINE = "offline"


class ManualStatus(StrEnum):
    """A status a person may choose; busy comes from consultations, offline from absence."""

    AVAILABLE = "available"
    AWAY = "away"
    DND = "dnd"


class RoutingMethod(StrEnum):
    """How a ring offers a question to its signed-in members (docs/rings.md)."""

    RING_ALL = "ring_all"
    LONGEST_IDLE = "longest_idle"
    ROUND_ROBIN = "round_robin"
    SERIAL = "serial"


class Urgency(StrEnum):
    """A question's urgency; urgent questions go first."""

    NORMAL = "normal"
    URGENT = "urgent"


class LegalBasis(StrEnum):
    """The legal basis recorded with a consultation about a client."""

    CLIENT_CONSENT = "client_consent"
    CLIENT_PRESENT = "client_present"
    NECESSITY_SA_18 = "necessity_sa_18"


class Outcome(StrEnum):
    """How a consultation ended, as its expert records it."""

    ANSWERED = "answered"
    NEEDS_FOLLOW_UP = "needs_follow_up"
    FORWARDED = "forwarded"
    CALLBACK_NEEDED = "callback_needed"


class RecordedOutcome(StrEnum):
    """A consultation's stored outcome: the expert's, or `not_recorded` when it closed
    itself after idling (liaison/domain/consultations.py)."""

    ANSWERED = "answered"
    NEEDS_FOLLOW_UP = "needs_follow_up"
    FORWARDED = "forwarded"
    CALLBACK_NEEDED = "callback_needed"
    NOT_RECORDED = "not_recorded"


class Topic(StrEnum):
    """What a consultation was about."""

    STATEMENT = "statement"
    MISSING_ATTACHMENT = "missing_attachment"
    CLIENTS_SITUATION = "clients_situation"
    DISCRETION = "discretion"
    URGENT_NEED = "urgent_need"
    REQUEST_TO_EXPEDITE = "request_to_expedite"


class CallbackState(StrEnum):
    """A callback request's state; `open` and `claimed` are still to be done."""

    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    COULD_NOT_REACH = "could_not_reach"


class CallbackUpdate(StrEnum):
    """The states a `callback_update` may move a request to."""

    CLAIMED = "claimed"
    DONE = "done"
    COULD_NOT_REACH = "could_not_reach"


class ConsultationState(StrEnum):
    """A consultation record's state."""

    WAITING = "waiting"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class ConsultationKind(StrEnum):
    """How a consultation began: a ring's question, a named contact's, or a callback."""

    RING = "ring"
    NAMED = "named"
    CALLBACK = "callback"


class LegOutcome(StrEnum):
    """What became of a question's stay in one ring (docs/load.md)."""

    WAITING = "waiting"
    ANSWERED = "answered"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    OVERFLOWED = "overflowed"


class OfferOutcome(StrEnum):
    """How one offer of a question to one member ended."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    MISSED = "missed"
    WITHDRAWN = "withdrawn"


class WithdrawReason(StrEnum):
    """Why an offer was withdrawn (a missed offer's `reason`)."""

    TAKEN = "taken"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    OVERFLOWED = "overflowed"
    SIGNED_OUT = "signed_out"
    UNAVAILABLE = "unavailable"


class OfferEndReason(StrEnum):
    """Why an offer stopped ringing for its member (`offer_withdrawn.reason`): it rang out
    (`missed`), was declined, or was withdrawn for one of the WithdrawReasons."""

    MISSED = "missed"
    DECLINED = "declined"
    TAKEN = "taken"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    OVERFLOWED = "overflowed"
    SIGNED_OUT = "signed_out"
    UNAVAILABLE = "unavailable"


class Language(StrEnum):
    """An interface language."""

    FI = "fi"
    SV = "sv"
    EN = "en"


class ErrorCode(StrEnum):
    """Every `code` of an `error` frame and of an HTTP error body."""

    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    HELLO_REQUIRED = "hello_required"
    BAD_FIELD = "bad_field"
    FRAME_TOO_LARGE = "frame_too_large"
    BAD_TEXT = "bad_text"
    RATE_LIMITED = "rate_limited"
    EMPTY_MESSAGE = "empty_message"
    MESSAGE_TOO_LONG = "message_too_long"
    ID_REUSED = "id_reused"
    TOO_MANY = "too_many"
    NOT_A_MEMBER = "not_a_member"
    BAD_STATUS = "bad_status"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    INVALID_IDENTITY_CODE = "invalid_identity_code"
    QUESTION_TOO_LONG = "question_too_long"
    NO_NAMED_CONTACTS = "no_named_contacts"
    ALREADY_TAKEN = "already_taken"
    NOT_OFFERED = "not_offered"
    ALREADY_CLAIMED = "already_claimed"
    CLOSED = "closed"
    ALREADY_MEMBER = "already_member"
    GROUP_FULL = "group_full"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
    # HTTP only
    BAD_REQUEST = "bad_request"
    BAD_PHOTO = "bad_photo"
    TOO_LARGE = "too_large"
    WEAK_PASSWORD = "weak_password"  # noqa: S105 (an error code)
    EXISTS = "exists"
    NOT_AUTHENTICATED = "not_authenticated"
    FORBIDDEN = "forbidden"
    BAD_METHOD = "bad_method"
    SUPPRESSED = "suppressed"


class OrganisationKind(StrEnum):
    """An organisation in the directory: Kela, or a municipality's or county's social services."""

    KELA = "kela"
    SOCIAL_SERVICES = "social_services"


class UnitKind(StrEnum):
    """A unit of an organisation in the directory."""

    INSURANCE_DISTRICT = "insurance_district"
    BENEFIT_TEAM = "benefit_team"
    CUSTOMER_SERVICE = "customer_service"
    WELLBEING_COUNTY = "wellbeing_county"
    MUNICIPALITY = "municipality"


class ConversationKind(StrEnum):
    """A chat conversation: between two people, or a named group."""

    DIRECT = "direct"
    GROUP = "group"


class AuditKind(StrEnum):
    """What an audit log event records (docs/accounts.md)."""

    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_REFUSED = "login_refused"
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    CLIENT_LOOKUP = "client_lookup"
    PEOPLE_SEARCH = "people_search"


class LockKind(StrEnum):
    """What a login lock is keyed on: the username typed, or the client's address."""

    USERNAME = "username"
    ADDRESS = "address"


# Listed in docs/protocol.md's vocabulary table (generated), in this order.
__all_vocabularies__ = (
    "PresenceStatus",
    "ManualStatus",
    "RoutingMethod",
    "Urgency",
    "LegalBasis",
    "Outcome",
    "RecordedOutcome",
    "Topic",
    "CallbackState",
    "CallbackUpdate",
    "ConsultationState",
    "ConsultationKind",
    "LegOutcome",
    "OfferOutcome",
    "WithdrawReason",
    "OfferEndReason",
    "Language",
    "OrganisationKind",
    "UnitKind",
    "ConversationKind",
    "AuditKind",
    "LockKind",
)


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The enum's values in declaration order, as plain text."""
    return tuple(member.value for member in enum)


# The vocabularies stored in a column, checked by the database (migration 0007):
# (table, column, vocabulary, nullable).
STORED: tuple[tuple[str, str, type[StrEnum], bool], ...] = (
    ("presence_settings", "manual_status", ManualStatus, False),
    ("rings", "method", RoutingMethod, False),
    ("consultations", "kind", ConsultationKind, False),
    ("consultations", "urgency", Urgency, False),
    ("consultations", "legal_basis", LegalBasis, True),
    ("consultations", "state", ConsultationState, False),
    ("consultations", "outcome", RecordedOutcome, True),
    ("consultations", "topic", Topic, True),
    ("callback_requests", "state", CallbackState, False),
    ("ring_legs", "urgency", Urgency, False),
    ("ring_legs", "outcome", LegOutcome, False),
    ("ring_offers", "outcome", OfferOutcome, False),
    ("ring_offers", "reason", WithdrawReason, True),
)


def check_name(table: str, column: str) -> str:
    return f"ck_{table}_{column}"


def check_sql(column: str, enum: type[StrEnum], nullable: bool) -> str:
    """The CHECK constraint's condition: the column holds one of the vocabulary's values."""
    listed = ", ".join(f"'{v}'" for v in values(enum))
    condition = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {condition}" if nullable else condition
