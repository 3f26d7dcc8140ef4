"""Request bodies of the JSON API: typed like the frames, refused the same way.

`liaison/web/api.py` decodes a body into one of these (`typed_body`); its OpenAPI request
schema is generated from the same class (`liaison/web/openapi.py`, `model_body`).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from liaison.domain.vocabulary import Language
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
