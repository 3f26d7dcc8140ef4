"""What a caller of any service has to be ready for: a refusal (`Refused`, a protocol
error code and a reason for people), or a database that did not answer (`UNAVAILABLE`,
the exceptions a down, unreachable or overloaded database raises). The transports turn
the first into an error body or frame and the second into "unavailable"; neither needs
to know the store behind the services."""

from __future__ import annotations

from liaison.domain.errors import Refused
from liaison.store.db import UNAVAILABLE

__all__ = ["UNAVAILABLE", "Refused"]
