"""Text every store and transport can hold: valid Unicode scalar values, no NUL.

JSON lets a client write a lone UTF-16 surrogate (`"\\ud800"`) or a NUL (`"\\u0000"`).
Neither can be stored (SQLite refuses to encode the one, PostgreSQL the other) nor
sent back in UTF-8, so they are refused where input enters, before anything else sees
them.
"""

from __future__ import annotations

import re
from typing import TypeGuard

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Every integer the store holds is a signed 64-bit number.
INT64 = range(-(2**63), 2**63)
# Row ids and sequence numbers are INTEGER columns: 32-bit on PostgreSQL. A larger id
# names no row, and the driver would refuse it deep inside a query.
ROW_IDS = range(0, 2**31)
# A JSON number that may not fit: 19 digits or more.
LONG_NUMBER = re.compile(r"\d{19}")


def storable(value: object) -> bool:
    """True when every string in a decoded JSON value (keys included) can be stored."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is None
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(storable(v) for v in value)
    return True


def fits(value: object) -> bool:
    """True when every integer in a decoded JSON value is a signed 64-bit number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value in INT64
    if isinstance(value, dict):
        return all(fits(v) for v in value.values())
    if isinstance(value, list):
        return all(fits(v) for v in value)
    return True


def is_row_id(value: object) -> TypeGuard[int]:
    """True for a whole number that can name a stored row (0 to 2^31-1)."""
    return isinstance(value, int) and not isinstance(value, bool) and value in ROW_IDS
