"""Client-to-server frames: one tagged union on `type`, decoded once at the edge.

Each class is one frame type; its docstring and its fields' descriptions are what the
generated tables of docs/protocol.md say. A field added here is validated, typed in the
handler, and documented (after `scripts/docs`) with nothing else to write.
"""

from __future__ import annotations

import typing
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from liaison.domain.vocabulary import CallbackUpdate, LegalBasis, Outcome, Topic, Urgency
from liaison.protocol.common import Id, Int64, Name, PersonId, Seq, Token, dec_hook

Ref = Annotated[
    Int64 | str | None,
    Meta(
        description="the client's reference, copied into the reply and into an error about "
        "this frame when it is an opaque token (a 64-bit integer, or 1 to 64 of "
        "A-Z a-z 0-9 _ -, holding no identity code)"
    ),
]
TimeWithZone = Annotated[datetime, Meta(tz=True, description="ISO 8601 with a time zone")]
Text = Annotated[str, Meta(description="free text; identity codes in it are replaced")]
MAX_NOTE_CHARS = 500
DUE_MINUTES_MAX = 20160  # 14 days


class ClientFrame(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """Fields every client frame may carry."""

    ref: Ref = None


class Hello(ClientFrame, tag="hello"):
    """The first frame on a socket; answered by `welcome`."""

    v: Annotated[int, Meta(description="protocol version; anything but 1 closes with 4012")] = 1
    active: Annotated[bool, Meta(description="the user is active (not idle) in this client")] = True
    resume: Annotated[
        dict[Annotated[str, Meta(pattern=r"^[0-9]{1,10}$")], Seq],
        Meta(description="conversation id (decimal string) → the highest seq the client has"),
    ] = {}
    watch: Annotated[
        list[PersonId],
        Meta(description="people whose presence this client shows (at most LIAISON_MAX_WATCH)"),
    ] = []
    presence_since: Annotated[
        TimeWithZone | None,
        Meta(description="`presence_at` of an earlier welcome: only views changed since"),
    ] = None


class Heartbeat(ClientFrame, tag="heartbeat"):
    """Keeps the connection alive and reports idleness; answered by `heartbeat_ack`."""

    active: Annotated[bool | None, Meta(description="omitted: unchanged")] = None


class Send(ClientFrame, tag="send"):
    """Sends a message; answered by `ack`."""

    id: Annotated[Token, Meta(description="unique among all messages this person sends")]
    conversation_id: Id
    body: Annotated[Text, Meta(description="plain text, at most config.max_message_chars")]


class Read(ClientFrame, tag="read"):
    """Moves the read marker: everything up to and including `seq` was read."""

    conversation_id: Id
    seq: Seq


class Typing(ClientFrame, tag="typing"):
    """Tells the other members the user is typing (at most one every 2 s is passed on)."""

    conversation_id: Id


class PhoneHoursSlot(msgspec.Struct, forbid_unknown_fields=True):
    """One weekly phone-hours slot."""

    day: Annotated[int, Meta(ge=0, le=6, description="0 = Monday ... 6 = Sunday")]
    start: Annotated[str, Meta(pattern=r"^[0-2][0-9]:[0-5][0-9]$", description="HH:MM")]
    end: Annotated[str, Meta(pattern=r"^[0-2][0-9]:[0-5][0-9]$", description="HH:MM")]


class SetPresence(ClientFrame, tag="set_presence"):
    """Changes one's own presence settings (at least one field); answered by `presence_set`."""

    status: Annotated[
        str | UnsetType, Meta(description="available, away or dnd (else bad_status)")
    ] = UNSET
    dnd_until: Annotated[
        str | UnsetType | None, Meta(description="only with status dnd; ISO 8601 with zone")
    ] = UNSET
    note: Annotated[Text | UnsetType, Meta(description="status note, at most 200")] = UNSET
    out_of_office_until: Annotated[
        str | UnsetType | None, Meta(description="last day out of office, YYYY-MM-DD")
    ] = UNSET
    out_of_office_note: Annotated[Text | UnsetType, Meta(description="as note")] = UNSET
    phone_hours: (
        Annotated[list[PhoneHoursSlot], Meta(max_length=28, description="replaces all")] | UnsetType
    ) = UNSET

    def changes(self) -> dict[str, object]:
        """The fields the frame carried, as the presence service takes them."""
        return {
            name: msgspec.to_builtins(value)
            for name in self.__struct_fields__
            if name != "ref" and (value := getattr(self, name)) is not UNSET
        }


class Sync(ClientFrame, tag="sync"):
    """Fetches messages after a seq; answered by `messages`."""

    conversation_id: Id
    after_seq: Seq


class Watch(ClientFrame, tag="watch"):
    """Replaces the people whose presence this connection shows; answered by
    `presence_views` with the views of those added."""

    people: Annotated[list[PersonId], Meta(description="at most LIAISON_MAX_WATCH")]


class PresenceSync(ClientFrame, tag="presence_sync"):
    """Asks for the presence views changed since a time; answered by `presence_views`."""

    since: Annotated[TimeWithZone, Meta(description="`presence_at` of an earlier reply")]


class RingSignIn(ClientFrame, tag="ring_sign_in"):
    """Signs in to or out of a ring one is a member of; answered by `rings`."""

    ring_id: Name
    signed_in: bool


class Ask(ClientFrame, tag="ask"):
    """Asks a ring (or one's named contacts) a question; answered by `question_status`."""

    question: Annotated[Text, Meta(description="not blank; at most 500 characters")]
    ring_id: Annotated[Name | None, Meta(description="required unless named")] = None
    named: Annotated[bool, Meta(description="ask the named contacts of one's area")] = False
    client_code: Annotated[
        str | None, Meta(description="a personal identity code; stored only as its reference")
    ] = None
    urgency: Urgency = Urgency.NORMAL
    legal_basis: LegalBasis | None = None


class Cancel(ClientFrame, tag="cancel"):
    """Cancels one's own waiting question."""

    question_id: Name


class Accept(ClientFrame, tag="accept"):
    """Accepts the question offered to the user; answered by `accepted`."""

    question_id: Name


class Decline(ClientFrame, tag="decline"):
    """Declines the question offered to the user."""

    question_id: Name


class CloseConsultation(ClientFrame, tag="close_consultation"):
    """The expert closes a consultation, recording its outcome; answered by
    `consultation_closed`."""

    consultation_id: Id
    outcome: Outcome
    topic: Topic | None = None
    legal_basis: LegalBasis | None = None


class Invite(ClientFrame, tag="invite"):
    """Adds a third person to an open consultation."""

    consultation_id: Id
    person_id: PersonId


class CallbackCreate(ClientFrame, tag="callback_create"):
    """Asks someone (a person, a ring, or the ring of one's question) to call back;
    answered by `callback_created`. One owner: person, ring or question."""

    owner_person_id: PersonId | None = None
    owner_ring_id: Name | None = None
    question_id: Name | None = None
    note: Annotated[Text, Meta(max_length=MAX_NOTE_CHARS)] = ""
    client_code: Annotated[str | None, Meta(description="as in ask")] = None
    due_minutes: Annotated[int, Meta(ge=1, le=DUE_MINUTES_MAX, description="up to 14 days")] = 60


class CallbackUpdateFrame(ClientFrame, tag="callback_update"):
    """Claims a callback request, or records how it ended."""

    callback_id: Id
    state: CallbackUpdate


class LoadSubscribe(ClientFrame, tag="load_subscribe"):
    """Starts the live load view; answered by `load`, then `load_ring` frames."""


class LoadUnsubscribe(ClientFrame, tag="load_unsubscribe"):
    """Stops the live load view."""


class RingsSubscribe(ClientFrame, tag="rings_subscribe"):
    """Starts live ring counts; answered by `rings`, then `ring_summary` frames."""


class RingsUnsubscribe(ClientFrame, tag="rings_unsubscribe"):
    """Stops live ring counts."""


class RingResume(ClientFrame, tag="ring_resume"):
    """Back in ring routing after being marked not responding; answered by `ring_member`."""


class ConsultationKeepOpen(ClientFrame, tag="consultation_keep_open"):
    """The expert keeps an idle consultation open (no automatic close)."""

    consultation_id: Id


class ConsultationNote(ClientFrame, tag="consultation_note"):
    """The asker's own note on a consultation."""

    consultation_id: Id
    note: Annotated[Text, Meta(max_length=MAX_NOTE_CHARS)]


ClientFrames = (
    Hello
    | Heartbeat
    | Send
    | Read
    | Typing
    | SetPresence
    | Sync
    | Watch
    | PresenceSync
    | RingSignIn
    | Ask
    | Cancel
    | Accept
    | Decline
    | CloseConsultation
    | Invite
    | CallbackCreate
    | CallbackUpdateFrame
    | LoadSubscribe
    | LoadUnsubscribe
    | RingsSubscribe
    | RingsUnsubscribe
    | RingResume
    | ConsultationKeepOpen
    | ConsultationNote
)
FRAME_TYPES: tuple[type[ClientFrame], ...] = typing.get_args(ClientFrames)
BY_TAG: dict[str, type[ClientFrame]] = {str(cls.__struct_config__.tag): cls for cls in FRAME_TYPES}

decoder = msgspec.json.Decoder(ClientFrames, dec_hook=dec_hook)
