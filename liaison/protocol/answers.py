"""The JSON API's small answers that are not shapes of the domain: the error body every
failed request gets, acknowledgements, and the probes' reports. Typed like every other
answer: handlers send these classes, and the OpenAPI components are generated from them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from liaison.domain.vocabulary import ErrorCode, Language


class ErrorBody(msgspec.Struct, kw_only=True):
    """Every JSON error response has this body."""

    error: Annotated[ErrorCode, Meta(description="a stable machine-readable code")]
    reason: Annotated[
        str, Meta(description="a human-readable explanation, in English; never quotes input")
    ]


class Stored(msgspec.Struct, kw_only=True):
    """The upload was stored."""

    ok: Literal[True] = True


class LanguageSaved(msgspec.Struct, kw_only=True):
    """The interface language now chosen."""

    language: Language


class Liveness(msgspec.Struct, kw_only=True):
    """The process answers; nothing else was checked."""

    status: Literal["ok"] = "ok"


class DependencyCheck(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One dependency, checked when asked."""

    status: Literal["up", "down"]
    error: Annotated[
        str | UnsetType,
        Meta(description="the kind of failure (an exception's type name), when down"),
    ] = UNSET


class DependencyChecks(msgspec.Struct, kw_only=True):
    database: Annotated[DependencyCheck, Meta(description="a real query through the pool")]
    bus: Annotated[DependencyCheck, Meta(description="the bus delivers")]


class Readiness(msgspec.Struct, kw_only=True):
    """Ready when every dependency is up (200); otherwise unavailable (503)."""

    status: Literal["ready", "unavailable"]
    checks: DependencyChecks
