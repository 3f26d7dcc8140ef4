"""Server-to-client frames: Structs tagged on `type`, encoded once by `encode`.

Fields whose value is `UNSET` are left out of the frame (the `ref`? of a reply, the
`id`? and `request_type`? of an error). Every shape a frame carries is typed: people and
chat in liaison/protocol/people.py and conversations.py, rings, consultations, callbacks
and the load view in rings.py and load.py; docs/protocol.md describes them.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from liaison.domain.vocabulary import ErrorCode, OfferEndReason, Urgency
from liaison.protocol import conversations as chat
from liaison.protocol import people
from liaison.protocol.common import Int64, Time
from liaison.protocol.load import LoadSnapshot, RingLoad
from liaison.protocol.rings import (
    CallbackRequest,
    ClientRef,
    Consultation,
    QuestionStatus,
    RingCounts,
    RingMemberState,
    RingSummary,
)

Echo = Annotated[Int64 | str | UnsetType, Meta(description="the request's `ref`, if a token")]

# Protocol types that are str subclasses (Token) go out as their text.
_encoder = msgspec.json.Encoder(enc_hook=str)


def encode(frame: msgspec.Struct | dict[str, Any]) -> str:
    """One frame as JSON text (UTF-8, no escapes for non-ASCII)."""
    return _encoder.encode(frame).decode()


class ServerFrame(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """Fields every reply may carry."""

    ref: Echo = UNSET


class Error(ServerFrame, tag="error"):
    """A frame was refused (see the error codes); the connection stays up."""

    code: ErrorCode
    reason: Annotated[str, Meta(description="for people; never quotes the input")]
    id: Annotated[Int64 | str | UnsetType, Meta(description="the request's `id`, if a token")] = (
        UNSET
    )
    request_type: Annotated[
        str | UnsetType,
        Meta(description="the refused frame's type, if it is one of the protocol's"),
    ] = UNSET


class WelcomeMe(msgspec.Struct, kw_only=True):
    """The user, in `welcome`."""

    person: Annotated[
        people.Person,
        Meta(description="the user's directory entry (GET /api/people/{id} without presence)"),
    ]
    username: Annotated[str, Meta(description="login name")]
    is_admin: Annotated[bool, Meta(description="administrator")]
    connection: Annotated[
        str,
        Meta(description="this connection's key (16 hex digits); presence tracks each by it"),
    ]


class ClientConfig(msgspec.Struct, kw_only=True):
    """The settings a client follows, in `welcome`."""

    heartbeat_interval: Annotated[
        float, Meta(description="seconds between heartbeats the client should send")
    ]
    heartbeat_timeout: Annotated[
        float, Meta(description="seconds of silence after which the server closes with 4010")
    ]
    idle_away_seconds: Annotated[
        int, Meta(description="seconds without input after which a client reports idle")
    ]
    max_message_chars: Annotated[int, Meta(description="longest message body, in characters")]
    max_frame_bytes: Annotated[int, Meta(description="largest frame the server reads, in bytes")]


class Welcome(ServerFrame, tag="welcome"):
    """The reply to `hello`; always the first frame (see the handshake)."""

    v: int
    me: WelcomeMe
    config: ClientConfig
    presence: list[people.PresenceView]
    presence_at: str
    conversations: list[chat.ConversationSummary]
    missed: list[chat.Message]
    truncated: list[int]
    rings: list[RingSummary]
    ring_member: RingMemberState
    offers: Annotated[list[Offer], Meta(description="the offer ringing for the user now, if any")]
    questions: Annotated[
        list[QuestionStatus], Meta(description="the user's own questions still open")
    ]
    consultations: Annotated[list[Consultation], Meta(description="the user's open consultations")]
    callbacks: Annotated[
        list[CallbackRequest], Meta(description="open and claimed ones the user may see")
    ]


class HeartbeatAck(ServerFrame, tag="heartbeat_ack"):
    """The reply to `heartbeat`."""


class Ack(ServerFrame, tag="ack"):
    """The reply to `send`: the message was stored (or had been: `duplicate`)."""

    id: str
    duplicate: bool
    redacted: Annotated[int, Meta(ge=0, description="identity codes replaced in the body")]
    message: chat.Message


class Message(ServerFrame, tag="message"):
    """A message was stored in a conversation of the user."""

    message: chat.Message


class Read(ServerFrame, tag="read"):
    """A member's read marker was set."""

    conversation_id: int
    person_id: int
    seq: int


class Typing(ServerFrame, tag="typing"):
    """Another member is typing."""

    conversation_id: int
    person_id: int


class Presence(people.PresenceView, tag_field="type", tag="presence"):
    """Someone's presence view changed (the PresenceView's fields, flattened)."""

    @classmethod
    def of(cls, view: people.PresenceView) -> Presence:
        return cls(*msgspec.structs.astuple(view))


class PresenceSet(ServerFrame, tag="presence_set"):
    """The reply to `set_presence`."""

    presence: people.PresenceView


class PresenceViews(ServerFrame, tag="presence_views"):
    """The reply to `watch` and `presence_sync`."""

    presence: list[people.PresenceView]
    presence_at: str


class Conversation(ServerFrame, tag="conversation"):
    """A conversation of the user was created, renamed or changed members."""

    conversation: chat.Conversation


class ConversationRemoved(ServerFrame, tag="conversation_removed"):
    """The user was removed from a group."""

    conversation_id: int


class Messages(ServerFrame, tag="messages"):
    """The reply to `sync`."""

    conversation_id: int
    messages: list[chat.Message]
    complete: bool


class Rings(ServerFrame, tag="rings"):
    """The reply to `ring_sign_in` and `rings_subscribe`."""

    rings: list[RingSummary]
    ring_member: RingMemberState


class RingSummaryFrame(ServerFrame, tag="ring_summary"):
    """A ring's counts changed (to subscribed connections)."""

    ring: RingCounts


class RingMember(ServerFrame, tag="ring_member"):
    """The user's standing in routing changed; the reply to `ring_resume`."""

    not_responding: bool
    missed_in_row: int

    @classmethod
    def of(cls, state: RingMemberState) -> RingMember:
        return cls(not_responding=state.not_responding, missed_in_row=state.missed_in_row)


class QuestionStatusFrame(ServerFrame, tag="question_status"):
    """The reply to `ask`; then to the asker on every change of the question."""

    question: QuestionStatus


class Offer(ServerFrame, tag="offer"):
    """A question starts ringing for this user."""

    question_id: str
    ring_id: str
    ring_name: str
    asker_id: int
    question: str
    urgency: Urgency
    client_ref: ClientRef | None
    expires_at: Time


class OfferWithdrawn(ServerFrame, tag="offer_withdrawn"):
    """That offer stopped ringing."""

    question_id: str
    reason: OfferEndReason


class Accepted(ServerFrame, tag="accepted"):
    """The reply to `accept`."""

    consultation: Consultation


class ConsultationFrame(ServerFrame, tag="consultation"):
    """A consultation of the user was opened, closed or got a third person."""

    consultation: Consultation


class ConsultationClosed(ServerFrame, tag="consultation_closed"):
    """The reply to `close_consultation`."""

    consultation: Consultation


class ConsultationReminder(ServerFrame, tag="consultation_reminder"):
    """An open consultation of which the user is the expert has been quiet."""

    consultation_id: int
    conversation_id: int | None
    idle_since: Time
    closes_at: Time | None


class CallbackCreated(ServerFrame, tag="callback_created"):
    """The reply to `callback_create`."""

    callback: CallbackRequest


class Callback(ServerFrame, tag="callback"):
    """A callback request the user may see was made or changed."""

    callback: CallbackRequest


class Load(ServerFrame, tag="load"):
    """The reply to `load_subscribe`, and the whole view again when rights change."""

    generated_at: Time
    day: str
    time_zone: str
    rings: list[RingLoad]

    @classmethod
    def of(cls, snapshot: LoadSnapshot) -> Load:
        return cls(**msgspec.structs.asdict(snapshot))


class LoadRing(ServerFrame, tag="load_ring"):
    """One ring's live figures changed (to load subscribers)."""

    generated_at: Time
    ring: RingLoad


ServerFrames = (
    Welcome
    | HeartbeatAck
    | Ack
    | Message
    | Read
    | Typing
    | Presence
    | PresenceSet
    | PresenceViews
    | Conversation
    | ConversationRemoved
    | Messages
    | Error
    | Rings
    | RingSummaryFrame
    | RingMember
    | QuestionStatusFrame
    | Offer
    | OfferWithdrawn
    | Accepted
    | ConsultationFrame
    | ConsultationClosed
    | ConsultationReminder
    | CallbackCreated
    | Callback
    | Load
    | LoadRing
)
