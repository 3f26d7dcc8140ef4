"""A person's profile: the one rule for what it may hold, whoever writes it. The limits
are the directory's (liaison/domain/directory.py, which the import checks rows against);
a person's own change through the API or the workspace's profile view is held to the
same. Too long is refused, never cut: a cut text or a dropped tag would be lost without
anyone being told.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from liaison.domain import directory, identity
from liaison.domain.directory import PHONE_RULE, is_phone_number
from liaison.domain.errors import Refused

TEXT_LIMITS = {key: directory.MAX_LENGTHS[key] for key in ("title", "ask_me_about")}
MAX_PHONE_CHARS = directory.MAX_LENGTHS["work_phone"]
MAX_TAGS = directory.MAX_TAGS
MAX_TAG_CHARS = directory.MAX_TAG_CHARS
FIELDS = ("ask_me_about", "languages", "tags", "title", "work_phone")

PHOTO_TYPES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"RIFF": "image/webp",
}


class ProfileRefused(Refused):
    """A profile change that breaks the rule; the reason names the field, never its value."""


def clean_profile(
    fields: Mapping[str, str | list[str]], secret: Callable[[], bytes]
) -> dict[str, Any]:
    """A person's own profile changes as they will be stored: free text trimmed, with
    identity codes replaced (docs/consultations.md), within the limits above; a work
    phone must be a phone number. The types and the limits of what was sent are checked
    where the body is decoded (liaison/protocol/http.py, ProfileChanges, from these same
    limits); what is checked here is the stored form. Refusals name the field, never
    its value."""
    changes: dict[str, Any] = {}

    def scrub(text: str) -> str:
        return identity.redact_identity_codes(text.strip(), secret)[0]

    for key, value in fields.items():
        if key in TEXT_LIMITS:
            text = scrub(str(value))
            if len(text) > TEXT_LIMITS[key]:
                raise ProfileRefused(
                    "bad_field", f"{key} must be text of at most {TEXT_LIMITS[key]}"
                )
            changes[key] = text
        elif key == "work_phone":
            phone = " ".join(str(value).split())
            if len(phone) > MAX_PHONE_CHARS or (phone and not is_phone_number(phone)):
                raise ProfileRefused("bad_field", f"work_phone: {PHONE_RULE}")
            changes[key] = phone
        elif key == "tags":
            tags = [scrub(t) for t in value]
            if len(tags) > MAX_TAGS or not all(0 < len(t) <= MAX_TAG_CHARS for t in tags):
                raise ProfileRefused(
                    "bad_field",
                    f"tags must be a list of at most {MAX_TAGS} texts of 1 to {MAX_TAG_CHARS}",
                )
            changes["tags"] = tags
        elif key == "languages":
            changes["languages"] = [t.lower() for t in value]
        else:
            raise ProfileRefused(
                "bad_field", "unknown field; the fields are " + ", ".join(sorted(FIELDS))
            )
    return changes


def photo_type(data: bytes) -> str | None:
    """The image type by its first bytes (never by the name or header the client sent)."""
    for magic, content_type in PHOTO_TYPES.items():
        if data.startswith(magic) and (content_type != "image/webp" or data[8:12] == b"WEBP"):
            return content_type
    return None
