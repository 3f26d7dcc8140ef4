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
from liaison.protocol.people import PhoneHours

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

    v: Annotated[
        int, Meta(description="protocol version; anything other than `1` closes with **4012**")
    ] = 1
    active: Annotated[
        bool,
        Meta(
            description="whether the user is active (not idle) in this client, see "
            "[heartbeats](#heartbeats-and-idle)"
        ),
    ] = True
    resume: Annotated[
        dict[Annotated[str, Meta(pattern=r"^[0-9]{1,10}$")], Seq],
        Meta(
            description="conversation id (as a decimal string) → the highest `seq` the client "
            "already has in it; see [resume](#resume-after-a-reconnect)"
        ),
    ] = {}
    watch: Annotated[
        list[PersonId],
        Meta(
            description="the people whose presence this client shows (directory rows, search "
            "results, an open card); more than `LIAISON_MAX_WATCH`: `too_many`; see [whose "
            "presence a client gets](#whose-presence-a-client-gets)"
        ),
    ] = []
    presence_since: Annotated[
        TimeWithZone | None,
        Meta(
            description="`presence_at` of an earlier `welcome` or `presence_views`: "
            "`welcome.presence` then carries only the views that changed at or after it"
        ),
    ] = None


class Heartbeat(ClientFrame, tag="heartbeat"):
    """Keeps the connection alive and reports idleness; answered by `heartbeat_ack`."""

    active: Annotated[bool | None, Meta(description="omitted: unchanged")] = None


class Send(ClientFrame, tag="send"):
    """Sends a message; answered by `ack`."""

    id: Annotated[
        Token,
        Meta(
            description="chosen by the client, **unique among all messages this person ever "
            "sends** (the browser client draws 24 random letters); see "
            "[acknowledgement](#acknowledgement-and-idempotent-resend)"
        ),
    ]
    conversation_id: Annotated[Id, Meta(description="a conversation the user is a member of")]
    body: Annotated[Text, Meta(description="plain text; see below")]


class Read(ClientFrame, tag="read"):
    """Moves the read marker: everything up to and including `seq` was read."""

    conversation_id: Annotated[Id, Meta(description="a conversation the user is a member of")]
    seq: Annotated[Seq, Meta(description="I have read everything up to and including this seq")]


class Typing(ClientFrame, tag="typing"):
    """Tells the other members the user is typing (at most one every 2 s is passed on)."""

    conversation_id: Id


class SetPresence(ClientFrame, tag="set_presence"):
    """Changes one's own presence settings (at least one field); answered by `presence_set`."""

    status: Annotated[
        str | UnsetType,
        Meta(
            description="`available`, `away` or `dnd` (`busy` and `offline` cannot be chosen: "
            "`bad_status`). Setting `status` always clears the previous `dnd_until`."
        ),
    ] = UNSET
    dnd_until: Annotated[
        str | UnsetType | None,
        Meta(
            description='allowed **only** together with `status: "dnd"` in the same frame '
            "(otherwise `bad_field`, also when null). ISO 8601 with a time zone, in the "
            'future. Omitted, null or `""`: do not disturb until changed.'
        ),
    ] = UNSET
    note: Annotated[
        Text | UnsetType,
        Meta(
            description="status note: stored trimmed, identity codes replaced, at most 200 "
            "characters in that form"
        ),
    ] = UNSET
    out_of_office_until: Annotated[
        str | UnsetType | None,
        Meta(description='last day out of office, `YYYY-MM-DD`; `null` or `""` clears it'),
    ] = UNSET
    out_of_office_note: Annotated[Text | UnsetType, Meta(description="as `note`")] = UNSET
    phone_hours: (
        Annotated[
            list[PhoneHours],
            Meta(
                max_length=28,
                description="replaces all phone hours, start before end; stored sorted by "
                "day and start",
            ),
        ]
        | UnsetType
    ) = UNSET


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

    question: Annotated[
        Text,
        Meta(
            description="not blank (`bad_field`); whitespace runs become one space; at most 500 "
            "characters after that (`question_too_long`); identity codes are replaced"
        ),
    ]
    ring_id: Annotated[
        Name | None, Meta(description="required unless `named`: a configured ring (`not_found`)")
    ] = None
    named: Annotated[
        bool,
        Meta(
            description="`true`: ask the named contacts of the user's area instead (`ring_id` "
            "is ignored); none and no liaison ring for the area: `no_named_contacts`"
        ),
    ] = False
    client_code: Annotated[
        str | None,
        Meta(
            description='a client\'s personal identity code; `null` or `""`: none; not a valid '
            "code: `invalid_identity_code`. Stored only as its client reference"
        ),
    ] = None
    urgency: Annotated[Urgency, Meta(description="urgent questions go first")] = Urgency.NORMAL
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
    topic: Topic
    legal_basis: LegalBasis | None = None


class Invite(ClientFrame, tag="invite"):
    """Adds a third person to an open consultation."""

    consultation_id: Id
    person_id: PersonId


class CallbackCreate(ClientFrame, tag="callback_create"):
    """Asks someone to call back; answered by `callback_created`. It needs one owner: a
    person, a ring, or the ring of one's own question (else `bad_field`)."""

    owner_person_id: Annotated[
        PersonId | None, Meta(description="the person who should call back")
    ] = None
    owner_ring_id: Annotated[
        Name | None, Meta(description="or: the ring whose members should (unknown: `not_found`)")
    ] = None
    question_id: Annotated[
        Name | None,
        Meta(
            description="or: one's own question, usually a timed-out one: the request is owned "
            "by its ring, a waiting question is cancelled, an empty `note` or missing "
            "`client_code` is taken from it (not the user's question: `not_found`)"
        ),
    ] = None
    note: Annotated[
        Text, Meta(max_length=MAX_NOTE_CHARS, description="identity codes are replaced")
    ] = ""
    client_code: Annotated[str | None, Meta(description="as in `ask`")] = None
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
