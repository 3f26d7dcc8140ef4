"""Rules for chat content and groups, independent of transport and storage."""

from __future__ import annotations

import re
import unicodedata
from typing import TypeGuard

from liaison.domain.errors import Refused
from liaison.domain.identity import find_identity_codes

CLIENT_ID_MAX = 64
# A client's own id for a message or request: an opaque token, never free text.
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{1,{CLIENT_ID_MAX}}}", re.ASCII)


class ChatError(Refused):
    """Refused by the chat service."""


def clean_body(body: object, max_chars: int) -> str:
    """Plain text, trimmed; control characters other than newline and tab are dropped."""
    if not isinstance(body, str):
        raise ChatError("bad_field", "body must be text")
    text = "".join(
        ch for ch in body if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    ).strip()
    if not text:
        raise ChatError("empty_message", "the message is empty")
    if len(text) > max_chars:
        raise ChatError(
            "message_too_long", f"the message is {len(text)} characters; the limit is {max_chars}"
        )
    return text


def is_token(value: object) -> TypeGuard[str]:
    """An opaque token: 1 to 64 of A-Z, a-z, 0-9, "_" and "-", holding no identity code
    (a token is stored and sent on as it is, so it must not be able to carry one)."""
    return (
        isinstance(value, str)
        and _TOKEN.fullmatch(value) is not None
        and not find_identity_codes(value)
    )


TITLE_MAX = 100


def clean_title(title: str) -> str:
    """A group title, trimmed; its identity codes are replaced afterwards (the service
    has the key), and the limit holds for the stored form too (``check_title_length``)."""
    if not title.strip():
        raise ChatError("bad_field", f"a group needs a title of 1 to {TITLE_MAX} characters")
    return check_title_length(title.strip())


def check_title_length(title: str) -> str:
    if len(title) > TITLE_MAX:
        raise ChatError("bad_field", f"a group needs a title of 1 to {TITLE_MAX} characters")
    return title


def direct_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


def check_group_size(count: int, maximum: int) -> None:
    if count < 2:
        raise ChatError("bad_field", "a group needs at least two members")
    if count > maximum:
        raise ChatError("group_full", f"a group has at most {maximum} members")
