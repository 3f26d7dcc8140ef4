"""Field types shared by the protocol's models, with their rules written once."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from liaison.domain.chat import CLIENT_ID_MAX as TOKEN_MAX
from liaison.domain.chat import is_token
from liaison.domain.text import ROW_IDS

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Row ids and sequence numbers are PostgreSQL INTEGER columns (domain.text.ROW_IDS).
INT32_MAX = ROW_IDS.stop - 1

Id = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]
PersonId = Annotated[int, msgspec.Meta(ge=1, le=INT32_MAX)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
# A short name of the server's (a ring id, a question id): not free text.
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# A moment as the server shows it: ISO 8601 with its offset (Python's isoformat, so "+00:00"
# rather than msgspec's "Z" for datetimes), e.g. "2026-11-30T08:15:00.123456+00:00".
Time = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
Count = Annotated[int, msgspec.Meta(ge=0)]
TOKEN_RULE = (
    f"1 to {TOKEN_MAX} letters A-Z, digits, '_' or '-' (a random token) "
    "holding no personal identity code"
)


class Token(str):
    """A client's opaque token (a message's `id`): stored and sent on as it is, so it can
    never carry free text, nor an identity code. Checked in `dec_hook`, the one place."""

    __slots__ = ()


def dec_hook(kind: type, value: Any) -> Any:
    """Builds the protocol's own types from decoded JSON; the message of a refusal is the
    rule, never the input (it may hold an identity code)."""
    if kind is Token:
        if not is_token(value):
            raise ValueError(f"must be {TOKEN_RULE}")
        return Token(value)
    raise NotImplementedError(f"no decoder for {kind!r}")


def schema_hook(kind: type) -> dict[str, Any]:
    if kind is Token:
        return {
            "type": "string",
            "pattern": f"^[A-Za-z0-9_-]{{1,{TOKEN_MAX}}}$",
            "description": f"an opaque token: {TOKEN_RULE}",
        }
    raise NotImplementedError(f"no schema for {kind!r}")
