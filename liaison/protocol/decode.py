"""The edge: JSON text in, one typed client frame out, or one documented refusal.

Every refusal is built here, the same way for every frame: its code is one of the
documented error codes, its reason names the field and the rule and never quotes the
input (a value, or an unknown field's name, could hold an identity code), and it keeps
what may be echoed of the refused frame (`ref`, `id`, `type`) when that can be read.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Any, get_args

import msgspec

from liaison.domain.chat import is_token
from liaison.domain.text import storable
from liaison.domain.vocabulary import ErrorCode
from liaison.protocol.client import BY_TAG, ClientFrame, decoder
from liaison.protocol.common import INT64_MAX, INT64_MIN

_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_KEY_AT = re.compile(r" - at `key` in `\$\.?(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[a-z_]+)`")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`")
# An unknown field's name is shown only when it cannot be anything but a name.
_SAFE_NAME = re.compile(r"[a-z_]{1,40}")


class FrameRefused(Exception):
    """A frame that is not one of the protocol's; `request` is what can be echoed."""

    def __init__(self, code: ErrorCode, reason: str, request: dict[str, Any] | None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.request = request


def echoable(value: object) -> bool:
    """A client's `ref` or `id` is copied into replies only when it is an opaque token
    (a 64-bit integer, or a token): never free text, which could carry an identity code
    back out (docs/protocol.md, "Frames")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return INT64_MIN <= value <= INT64_MAX
    return is_token(value)


def echo_of(request: dict[str, Any] | None) -> dict[str, Any]:
    """What an error about this (raw) frame may carry: its ref and id when they are
    tokens, and its type when that is one of the protocol's."""
    echo: dict[str, Any] = {}
    if not request:
        return echo
    for key in ("ref", "id"):
        if echoable(request.get(key)):
            echo[key] = request[key]
    kind = request.get("type")
    if isinstance(kind, str) and kind in BY_TAG:
        echo["request_type"] = kind
    return echo


_INVALID = object()


def _loads(text: str) -> Any:
    """The JSON value, or _INVALID. Only refused frames pay for this second parse."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        # RecursionError: brackets nested deeper than any frame needs.
        return _INVALID


def peek(text: str) -> dict[str, Any] | None:
    """The frame as a plain object, for the fields an error may echo; None if unreadable."""
    parsed = _loads(text)
    return parsed if isinstance(parsed, dict) else None


def decode(text: str) -> ClientFrame:
    """The typed frame; raises FrameRefused with the code the protocol documents."""
    if "\\u" in text:
        # Only a \u escape can bring a lone surrogate or a NUL into JSON text: text that
        # neither database stores and no socket can send.
        raw = peek(text)
        if raw is not None and not storable(raw):
            raise FrameRefused(
                ErrorCode.BAD_TEXT, "text must be valid Unicode without NUL characters", raw
            )
    try:
        return decoder.decode(text)
    except msgspec.ValidationError as e:
        parsed = _loads(text)
        if parsed is _INVALID:
            raise FrameRefused(ErrorCode.BAD_JSON, "frame is not valid JSON", None) from None
        raise _refusal(str(e), parsed if isinstance(parsed, dict) else None) from None
    except msgspec.DecodeError:
        raise FrameRefused(ErrorCode.BAD_JSON, "frame is not valid JSON", None) from None


def _refusal(message: str, raw: dict[str, Any] | None) -> FrameRefused:
    if raw is None:
        return FrameRefused(ErrorCode.BAD_FRAME, "frame must be a JSON object", None)
    kind = raw.get("type")
    if not isinstance(kind, str):
        return FrameRefused(ErrorCode.BAD_FRAME, "frame needs a string field 'type'", raw)
    frame_type = BY_TAG.get(kind)
    if frame_type is None:
        # The type is user input: the reason does not repeat it.
        return FrameRefused(ErrorCode.UNKNOWN_TYPE, "unknown frame type", raw)
    return FrameRefused(ErrorCode.BAD_FIELD, field_reason(message, frame_type), raw)


def field_reason(message: str, frame_type: type[msgspec.Struct] | None = None) -> str:
    """msgspec's message, rewritten so that it names only the model's fields and rules."""
    if m := _MISSING.match(message):
        return f"field {m['name']!r} is required"
    if m := _UNKNOWN.match(message):
        name = m["name"]
        shown = f" {name!r}" if _SAFE_NAME.fullmatch(name) else ""
        allowed = ""
        if frame_type is not None:
            allowed = "; the fields are " + ", ".join(
                f for f in frame_type.__struct_fields__ if f != "ref"
            )
        return f"unknown field{shown}{allowed}"
    if m := _KEY_AT.search(message):
        return f"field {m['path']!r} has a key that is not allowed: {_rule(message, m)}"
    if m := _AT.search(message):
        path = m["path"]
        if message.startswith(("Invalid enum value", "Invalid value")):
            return f"field {path!r} must be one of {_choices(frame_type, path)}"
        return f"field {path!r}: {_rule(message, m)}"
    if message.startswith("Expected `object`"):
        return "the frame must be a JSON object"
    return "a field has an invalid value"


def _rule(message: str, at: re.Match[str]) -> str:
    rule = message[: at.start()]
    # msgspec's own words are about types and bounds only; an enum's names its value.
    if rule.startswith(("Invalid enum value", "Invalid value")):
        return "not one of the allowed values"
    return rule.replace("Expected", "expected", 1)


def _choices(frame_type: type[msgspec.Struct] | None, path: str) -> str:
    if frame_type is not None:
        for field in msgspec.structs.fields(frame_type):
            if field.name == path:
                for kind in (field.type, *get_args(field.type)):
                    if isinstance(kind, type) and issubclass(kind, Enum):
                        return ", ".join(str(member.value) for member in kind)
    return "the documented values"
