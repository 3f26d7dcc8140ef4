"""Finnish personal identity codes (henkilötunnus): validation, pseudonymisation, redaction.

The code itself must never be stored, logged or echoed back. Everything here either
returns a normalised code to the immediate caller or replaces it with a keyed,
deployment-specific pseudonym ("client reference") as soon as possible.

Format: DDMMYYCZZZQ
- DDMMYY: date of birth; C: century sign; ZZZ: individual number (002-899 in
  permanent codes, 900-999 in temporary ones); Q: check character, chosen by
  int(DDMMYYZZZ) mod 31 from ``CHECK_CHARACTERS``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import date
from typing import Literal

__all__ = [
    "CENTURY_SIGNS",
    "CHECK_CHARACTERS",
    "PSEUDONYM_ALPHABET",
    "PSEUDONYM_PREFIX",
    "InvalidIdentityCode",
    "Reason",
    "find_identity_codes",
    "normalise_identity_code",
    "pseudonymise",
    "redact_identity_codes",
    "validate_identity_code",
]

CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"

# Century signs; the extra ones (Y-U, B-F) have been issued since 2023.
CENTURY_SIGNS: dict[str, int] = {
    "+": 1800,
    "-": 1900,
    "Y": 1900,
    "X": 1900,
    "W": 1900,
    "V": 1900,
    "U": 1900,
    "A": 2000,
    "B": 2000,
    "C": 2000,
    "D": 2000,
    "E": 2000,
    "F": 2000,
}

PSEUDONYM_PREFIX = "AR-"  # "asiakasreferenssi", client reference

# Crockford's base32 alphabet: no I, L, O or U, so a token read aloud over the phone
# or copied by hand cannot confuse 1/I/L or 0/O.
PSEUDONYM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RFC4648_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_PSEUDONYM_ALPHABET = str.maketrans(_RFC4648_ALPHABET, PSEUDONYM_ALPHABET)

Reason = Literal["format", "date", "century", "check"]

_SHAPE = re.compile(r"(\d{2})(\d{2})(\d{2})(.)(\d{3})(.)", re.ASCII)

# Embedded in free text: bounded by anything but a letter or digit (an underscore or
# punctuation next to a code must not hide it). Case-insensitive because people type
# codes in lower case too.
_IN_TEXT = re.compile(
    r"(?<![^\W_])\d{6}[-+A-FU-Y]\d{3}[0-9A-Y](?![^\W_])",
    re.IGNORECASE,
)


class InvalidIdentityCode(ValueError):
    """A string is not a valid personal identity code.

    ``reason`` is one of "format", "date", "century", "check". The message never
    contains the input, so the exception is safe to log.
    """

    def __init__(self, reason: Reason) -> None:
        super().__init__(f"invalid personal identity code ({reason})")
        self.reason: Reason = reason


def normalise_identity_code(text: str) -> str:
    """Strip surrounding whitespace, upper-case."""
    return text.strip().upper()


def _check_character(digits: str) -> str:
    return CHECK_CHARACTERS[int(digits) % 31]


def validate_identity_code(text: str) -> str:
    """Return the normalised code, or raise InvalidIdentityCode with a reason."""
    code = normalise_identity_code(text)
    m = _SHAPE.fullmatch(code)
    if m is None:
        raise InvalidIdentityCode("format") from None
    day, month, yy, sign, individual, check = m.groups()
    century = CENTURY_SIGNS.get(sign)
    if century is None:
        raise InvalidIdentityCode("century") from None
    try:
        date(century + int(yy), int(month), int(day))
    except ValueError:
        # `from None`: the chained message could reveal parts of the input.
        raise InvalidIdentityCode("date") from None
    if int(individual) < 2:
        raise InvalidIdentityCode("format") from None
    if check != _check_character(day + month + yy + individual):
        raise InvalidIdentityCode("check") from None
    return code


def _is_valid(text: str) -> bool:
    try:
        validate_identity_code(text)
    except InvalidIdentityCode:
        return False
    return True


def pseudonymise(code: str, secret: bytes) -> str:
    """Keyed, stable client reference for a valid code, e.g. "AR-7QK2M-XD4NB".

    HMAC-SHA-256 with the per-deployment secret over the normalised code; the first
    50 bits of the digest in ``PSEUDONYM_ALPHABET``, grouped 5+5. The code space is
    small, so the secret is what keeps the mapping one-way: keep it out of the
    database and backups that hold the log. 50 bits make accidental collisions
    unlikely at the scale of one deployment's clients (~1e-5 at 100 000 clients).
    """
    if not secret:
        raise ValueError("pseudonymisation secret must not be empty")
    normalised = validate_identity_code(code)
    digest = hmac.new(secret, normalised.encode("ascii"), hashlib.sha256).digest()
    token = base64.b32encode(digest).decode("ascii").translate(_TO_PSEUDONYM_ALPHABET)[:10]
    return f"{PSEUDONYM_PREFIX}{token[:5]}-{token[5:]}"


def find_identity_codes(text: str) -> list[re.Match[str]]:
    """Valid identity codes embedded in free text, as matches in order.

    Only candidates whose date and check character validate are returned, so order
    numbers or dates that merely look similar are left alone.
    """
    return [m for m in _IN_TEXT.finditer(text) if _is_valid(m.group(0))]


def redact_identity_codes(text: str, secret: bytes) -> tuple[str, int]:
    """Replace every valid embedded code with its pseudonym; return (text, count)."""
    if not secret:
        raise ValueError("pseudonymisation secret must not be empty")
    count = 0

    def replace(m: re.Match[str]) -> str:
        nonlocal count
        candidate = m.group(0)
        if not _is_valid(candidate):
            return candidate
        count += 1
        return pseudonymise(candidate, secret)

    return _IN_TEXT.sub(replace, text), count
