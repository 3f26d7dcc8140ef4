"""The one kind of refusal every service raises: a protocol error code and a reason."""

from __future__ import annotations


class Refused(ValueError):
    """A refused action; `code` is the protocol error code, `reason` the text for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
