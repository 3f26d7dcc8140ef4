"""Request bodies of the JSON API: typed like the frames, refused the same way.

`liaison/web/api.py` decodes a body into one of these (`typed_body`); its OpenAPI request
schema is generated from the same class (`liaison/web/openapi.py`, `model_body`).
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

import msgspec
from msgspec import UNSET, Meta, UnsetType

from liaison.domain import profile
from liaison.domain.vocabulary import Language, RoutingMethod
from liaison.protocol.client import SetPresence
from liaison.protocol.common import Id

Title = Annotated[
    str, Meta(description="identity codes replaced; 1 to 100 characters in the stored form")
]


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A JSON object with exactly the fields of its class."""


class LanguageChoice(Body):
    language: Language


class NewConversation(Body):
    """With `person_id`: the direct conversation with that person. Otherwise a group with
    `title` and `members`."""

    person_id: Annotated[Id | UnsetType, Meta(description="the other person")] = UNSET
    title: Title | UnsetType = UNSET
    members: Annotated[list[Id] | UnsetType, Meta(description="person ids")] = UNSET


class Rename(Body):
    title: Title


class NewMember(Body):
    person_id: Id


class ClientLookup(Body):
    client_code: Annotated[
        str, Meta(description="a personal identity code (DDMMYY, sign, 3 digits, check)")
    ]


class NewAccount(Body):
    username: Annotated[str, Meta(description="1 to 100 characters without spaces after trimming")]
    password: Annotated[str, Meta(description="at least 8 characters (else weak_password)")]
    person_id: Id
    is_admin: bool = False


class AccountChange(Body):
    disabled: bool


Tag = Annotated[str, Meta(min_length=1, max_length=profile.MAX_TAG_CHARS)]


class ProfileChanges(Body):
    """One's own directory fields: the one rule for the API and the workspace's profile
    form (which sends this body). Only the fields given change; text is trimmed and its
    identity codes are replaced; the limits (liaison/domain/profile.py) hold for the
    stored form."""

    title: Annotated[str, Meta(max_length=profile.TEXT_LIMITS["title"])] | UnsetType = UNSET
    work_phone: (
        Annotated[str, Meta(max_length=profile.MAX_PHONE_CHARS, description=profile.PHONE_RULE)]
        | UnsetType
    ) = UNSET
    ask_me_about: (
        Annotated[str, Meta(max_length=profile.TEXT_LIMITS["ask_me_about"])] | UnsetType
    ) = UNSET
    tags: Annotated[list[Tag], Meta(max_length=profile.MAX_TAGS)] | UnsetType = UNSET
    languages: (
        Annotated[
            list[Annotated[str, Meta(pattern="^[A-Za-z]{2}$")]],
            Meta(description="two letters each, stored lower-case"),
        ]
        | UnsetType
    ) = UNSET

    def given(self) -> dict[str, str | list[str]]:
        """The fields the body carried."""
        return {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not UNSET
        }


# PATCH /api/me/presence takes the fields of the `set_presence` frame, written once there
# (liaison/protocol/client.py); the service takes the frame as its command.
PresenceChanges = cast(
    type[Body],
    msgspec.defstruct(
        "PresenceChanges",
        [
            (f.name, f.type, f.default)
            for f in msgspec.structs.fields(SetPresence)
            if f.name != "ref"
        ],
        bases=(Body,),
        module=__name__,
    ),
)
PresenceChanges.__doc__ = (
    "Only the fields given change; at least one is needed. The fields, checks and answer "
    "of the WebSocket frame set_presence."
)


def presence_command(body: Body) -> SetPresence:
    """The body as the `set_presence` command the presence service takes."""
    return SetPresence(**msgspec.structs.asdict(body))


Email = Annotated[str, Meta(description="a person's email, as in the directory")]


class RingDefinition(Body):
    """One ring. Numbers are checked as the router needs them (at least 1; the target not
    negative; no overflow into itself)."""

    id: Annotated[str, Meta(min_length=1, max_length=64, description="not starting with `named:`")]
    name: Annotated[str, Meta(min_length=1)]
    kind: Literal["benefit", "liaison"] = "benefit"
    benefit: str | None = None
    area: Annotated[str, Meta(description="the area of a liaison ring")] = ""
    method: RoutingMethod = RoutingMethod.RING_ALL
    alert_seconds: Annotated[int, Meta(description="how long an offer rings")] = 20
    queue_timeout_seconds: Annotated[
        int, Meta(description="how long a question waits in this ring")
    ] = 180
    overflow_ring_id: Annotated[
        str | None, Meta(description="a ring in the store or in this document")
    ] = None
    max_concurrent: Annotated[int, Meta(description="open consultations a member takes")] = 1
    target_answer_seconds: int = 60
    phone_hours_only: bool = False
    members: Annotated[list[Email], Meta(description="in serial order")] = []


class NamedContacts(Body):
    """An area's named contacts on one side, tried in order by "contact my liaison"."""

    area: Annotated[str, Meta(min_length=1)]
    side: Literal["kela", "social_services"]
    people: Annotated[list[Email], Meta(description="in order")] = []


class RingsDocument(Body):
    """The rings document (docs/rings.md): applied all or nothing; rings missing from it
    are left alone."""

    rings: list[RingDefinition] = []
    named_contacts: list[NamedContacts] = []
