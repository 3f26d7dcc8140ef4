"""Rules for chat content and groups, independent of transport and storage."""

from __future__ import annotations

import unicodedata

from liaison.domain.errors import Refused

CLIENT_ID_MAX = 64


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


def check_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= CLIENT_ID_MAX:
        raise ChatError("bad_field", f"id must be text of 1 to {CLIENT_ID_MAX} characters")
    return client_id


def clean_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > 100:
        raise ChatError("bad_field", "a group needs a title of 1 to 100 characters")
    return title.strip()


def direct_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


def check_group_size(count: int, maximum: int) -> None:
    if count < 2:
        raise ChatError("bad_field", "a group needs at least two members")
    if count > maximum:
        raise ChatError("group_full", f"a group has at most {maximum} members")
