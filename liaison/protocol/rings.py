"""The shapes of rings, questions, consultations and callback requests, as frames and the
JSON API carry them. The ring services (liaison/services/rings.py, consultations.py,
callbacks.py, records.py) build these; `encode` writes them; the OpenAPI components, the
protocol's JSON Schema and the tables of docs/protocol.md are generated from them
(`scripts/docs`). A field added here is typed, documented and checked in one place.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from liaison.domain.rings import QuestionState
from liaison.domain.vocabulary import (
    CallbackState,
    ConsultationKind,
    ConsultationState,
    LegalBasis,
    RecordedOutcome,
    RoutingMethod,
    Topic,
    Urgency,
    WithdrawReason,
)
from liaison.protocol.common import Count, Time

ClientRef = Annotated[
    str,
    Meta(
        pattern=r"^AR-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$",
        description="pseudonymous client reference: HMAC-SHA-256 of the personal identity "
        "code with the deployment's secret, 50 bits in Crockford base32 "
        "(docs/consultations.md)",
    ),
]
Seconds = Annotated[float, Meta(ge=0)]


class Shape(msgspec.Struct, kw_only=True):
    """A JSON object the server sends; every field is always present (null when empty)."""


class RingCounts(Shape):
    """One ring's live counts, the same for everyone; no member names (`ring_summary`)."""

    id: str
    members_signed_in: Count
    members_free: Annotated[Count, Meta(description="signed in and able to take one now")]
    members_not_responding: Annotated[
        Count, Meta(description="signed in but out of routing after missing offers in a row")
    ]
    waiting: Annotated[Count, Meta(description="open questions: waiting or ringing")]
    oldest_wait_seconds: Seconds | None
    estimated_wait_seconds: Annotated[
        Seconds | None, Meta(description="for a question asked now; null: unknown")
    ]


class RingSummary(RingCounts):
    """A ring with its live counts and the user's part in it. Named-contact rings are not
    listed (`welcome.rings`, `rings`, `GET /api/rings`)."""

    name: str
    method: RoutingMethod
    overflow_ring_id: Annotated[
        str | None, Meta(description="where its questions go at the queue timeout; null: none")
    ]
    phone_hours_only: Annotated[
        bool, Meta(description="members are offered questions only in their phone hours")
    ]
    member: Annotated[bool, Meta(description="the user is a configured member (may sign in)")]
    signed_in: Annotated[bool, Meta(description="the user is signed in")]


class RingMemberState(Shape):
    """The user's own standing in routing (`welcome.ring_member`, `ring_member`)."""

    not_responding: Annotated[
        bool,
        Meta(
            description="out of routing after letting offers ring out in a row, until `ring_resume`"
        ),
    ]
    missed_in_row: Count


class QuestionStatus(Shape):
    """Where the asker's question stands; counts only, members are not named except whoever
    accepted (`question_status`, `welcome.questions`)."""

    question_id: str
    ring_id: Annotated[str, Meta(description="the ring it is in now (after any overflow)")]
    ring_name: str
    state: QuestionState
    position: Annotated[
        int | None,
        Meta(description="1-based place among the ring's open questions; null once closed"),
    ]
    queue_length: Annotated[
        Count,
        Meta(
            description=(
                "the ring's open questions when this status was made; one asked behind "
                "this question is not a change of it (`ring_summary` counts them live)"
            )
        ),
    ]
    members_signed_in: Count
    members_free: Count
    waited_seconds: Annotated[
        Seconds, Meta(description="since the original ask (until closing, once closed)")
    ]
    estimated_wait_seconds: Seconds | None
    deadline: Annotated[
        Time | None, Meta(description="the current ring's queue timeout; null once closed")
    ]
    ringing: Annotated[Count, Meta(description="members it rings for now")]
    accepted_by: Annotated[int | None, Meta(description="person id of the expert who took it")]


class Consultation(Shape):
    """One record of the consultation log (docs/consultations.md)."""

    id: int
    question_id: Annotated[str, Meta(description="random, 16 hex digits; the ring question's id")]
    kind: ConsultationKind
    ring_id: Annotated[
        str | None, Meta(description="the ring the question is in now (after any overflow)")
    ]
    asker_id: Annotated[int, Meta(description="person id")]
    expert_id: Annotated[int | None, Meta(description="who accepted (person id)")]
    third_party_id: Annotated[int | None, Meta(description="a third person invited (person id)")]
    conversation_id: Annotated[
        int | None, Meta(description="the consultation's group conversation")
    ]
    question: Annotated[
        str,
        Meta(
            description="whitespace collapsed; identity codes replaced by client references; "
            "empty in lookup results"
        ),
    ]
    urgency: Urgency
    client_ref: ClientRef | None
    legal_basis: LegalBasis | None
    state: ConsultationState
    asked_at: Time
    offered_at: Time | None
    accepted_at: Time | None
    closed_at: Time | None
    wait_seconds: Annotated[
        Seconds | None, Meta(description="accepted_at - asked_at; null until accepted")
    ]
    handle_seconds: Annotated[
        Seconds | None, Meta(description="closed_at - accepted_at; null unless both")
    ]
    missed_offers: Annotated[
        Count, Meta(description="offers that rang out unanswered, in every ring")
    ]
    outcome: Annotated[
        RecordedOutcome | None,
        Meta(description="not_recorded: it closed itself after idling (never chosen by a person)"),
    ]
    topic: Topic | None
    asker_note: Annotated[str, Meta(description="the asker's own note; identity codes replaced")]
    kept_open_at: Time | None
    reminded_at: Time | None


class ConsultationConversation(Shape):
    """A conversation of the user that belongs to a consultation, and whether it ended."""

    conversation_id: int
    consultation_id: int
    state: ConsultationState
    closed_at: Time | None


class MissedOffer(Shape):
    """An offer the user did not answer, and what became of its question (docs/rings.md,
    the missed list)."""

    id: int
    question_id: str
    ring_id: str
    ring_name: str
    offered_at: Time
    ended_at: Time
    outcome: Literal["missed", "withdrawn"]
    reason: Annotated[WithdrawReason | None, Meta(description="why a withdrawn offer ended")]
    asker_id: Annotated[int, Meta(description="person id")]
    question: str
    urgency: Urgency
    client_ref: ClientRef | None
    state: Annotated[ConsultationState, Meta(description="the question's record now")]
    expert_id: Annotated[int | None, Meta(description="who took it, if anyone")]
    consultation_outcome: RecordedOutcome | None


class CallbackRequest(Shape):
    """A callback request (docs/consultations.md)."""

    id: int
    consultation_id: Annotated[
        int | None, Meta(description="the consultation record it belongs to")
    ]
    created_by: Annotated[int, Meta(description="person id")]
    owner_person_id: Annotated[int | None, Meta(description="the person who should call back")]
    owner_ring_id: Annotated[str | None, Meta(description="or the ring whose members should")]
    note: Annotated[str, Meta(description="identity codes replaced by client references")]
    client_ref: ClientRef | None
    state: CallbackState
    claimed_by: Annotated[int | None, Meta(description="person id")]
    due_at: Time
    created_at: Time
    closed_at: Time | None


# ---------------------------------------------------------------- JSON API bodies


class RingList(Shape):
    rings: list[RingSummary]


class ConsultationList(Shape):
    consultations: list[Consultation]


class ConsultationConversations(Shape):
    conversations: list[ConsultationConversation]


class ClientLookupResult(Shape):
    client_ref: ClientRef
    consultations: Annotated[list[Consultation], Meta(description='`question` is "" in each')]


class MissedOffers(Shape):
    missed: list[MissedOffer]


class CallbackList(Shape):
    callbacks: list[CallbackRequest]


class RingsConfigured(Shape):
    """What `PUT /api/admin/rings` (and `liaison rings`) applied."""

    rings: Count
    named_contacts: Count
