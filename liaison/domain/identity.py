"""Finnish personal identity codes (henkilötunnus): validation, pseudonymisation, and the
one scanner that finds them in free text.

The code itself must never be stored, logged or echoed back. Everything here either
returns a normalised code to the immediate caller or replaces it with a keyed,
deployment-specific pseudonym ("client reference") as soon as possible.

Format: DDMMYYCZZZQ
- DDMMYY: date of birth; C: century sign; ZZZ: individual number (002-899 in
  permanent codes, 900-999 in temporary ones); Q: check character, chosen by
  int(DDMMYYZZZ) mod 31 from ``CHECK_CHARACTERS``.

The scanner (``find_identity_codes``, ``redact_identity_codes``) reads codes as people
type them: any dash for the hyphen, spaces and invisible characters inside, full-width
or other Unicode digits and letters, lower case, letters glued on either side,
percent-encoding (as in URLs), and codes whose check character is wrong or missing.
The rule and its measured false-positive rate: docs/consultations.md, "Identity codes
in free text".
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = [
    "CENTURY_SIGNS",
    "CHECK_CHARACTERS",
    "PSEUDONYM_ALPHABET",
    "PSEUDONYM_PREFIX",
    "REDACTION_MARK",
    "FoundCode",
    "InvalidIdentityCode",
    "Reason",
    "check_character",
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

# What replaces a code that its check character does not confirm (wrong or missing),
# and every code in a log line (the log has no key to make references with).
REDACTION_MARK = "[identity code]"

# Crockford's base32 alphabet: no I, L, O or U, so a token read aloud over the phone
# or copied by hand cannot confuse 1/I/L or 0/O.
PSEUDONYM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RFC4648_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_PSEUDONYM_ALPHABET = str.maketrans(_RFC4648_ALPHABET, PSEUDONYM_ALPHABET)

Reason = Literal["format", "date", "century", "check"]

_SHAPE = re.compile(r"(\d{2})(\d{2})(\d{2})(.)(\d{3})(.)", re.ASCII)


class InvalidIdentityCode(ValueError):
    """A string is not a valid personal identity code.

    ``reason`` is one of "format", "date", "century", "check". The message never
    contains the input, so the exception is safe to log.
    """

    def __init__(self, reason: Reason) -> None:
        super().__init__(f"invalid personal identity code ({reason})")
        self.reason: Reason = reason


# ---------------------------------------------------------------- the character map
#
# Every character of a text maps to one "skeleton" character, so positions in the
# skeleton are positions in the text: a digit "0"-"9", an upper-case letter "A"-"Z",
# "+", "-", a separator, which may sit inside a code (" " for whitespace, "_" for an
# invisible character), or "#" (anything else, which ends a code).

_SPACE = " "
_INVISIBLE = "_"
_SEPARATORS = _SPACE + _INVISIBLE
_OTHER = "#"
# Dash punctuation (Unicode category Pd: hyphen, non-breaking hyphen, en and em dash,
# figure dash, full-width hyphen-minus...) plus the minus signs that are not Pd.
_EXTRA_DASHES = frozenset("\u2212\u2043\u02d7\u2796\u207b\u208b")
_EXTRA_PLUSES = frozenset("\u2795")
# Invisible letters (category Lo) that some editors and attackers use as blanks.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_SPACE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc"})
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


def _skeleton_of(ch: str) -> str:
    if ch in _EXTRA_PLUSES:
        return "+"
    if ch in _EXTRA_DASHES or unicodedata.category(ch) == "Pd":
        return "-"
    if ch.isdecimal():  # any script's digits: full-width, Arabic-Indic, ...
        return str(unicodedata.decimal(ch))
    folded = unicodedata.normalize("NFKC", ch)  # full-width and styled letters, "＋"
    if len(folded) == 1 and folded.isascii():
        if folded.isalnum():
            return folded.upper()
        if folded in "+-":
            return folded
        if folded.isspace():
            return _SPACE
    category = unicodedata.category(ch)
    if ch.isspace() or category in _SPACE_CATEGORIES:
        return _SPACE
    if ch in _BLANK_LETTERS or category in _INVISIBLE_CATEGORIES:
        return _INVISIBLE
    return _OTHER


class _SkeletonTable(dict[int, str]):
    """A str.translate table filled on first use of each character."""

    def __missing__(self, codepoint: int) -> str:
        value = _skeleton_of(chr(codepoint))
        if len(self) < 65536:  # bounded: a text of rare characters cannot grow it forever
            self[codepoint] = value
        return value


_TABLE = _SkeletonTable()

# One percent-encoded byte, also when encoded more than once ("%252D" is "%2D" is "-").
_PERCENT_BYTE = re.compile(r"%(?:25)*([0-9A-Fa-f]{2})")


def _skeleton(text: str) -> tuple[str, list[int], list[int]]:
    """The skeleton of a text, and for each of its characters the span it came from.

    A percent-encoded character (``%2D``, ``%E2%80%93``, ``%C2%A0``) is one skeleton
    character spanning all its escapes, so a code in a URL is found as it is meant.
    """
    if "%" not in text:
        return text.translate(_TABLE), list(range(len(text))), list(range(1, len(text) + 1))
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < len(text):
        m = _PERCENT_BYTE.match(text, i)
        if m is None:
            chars.append(text[i].translate(_TABLE))
            starts.append(i)
            ends.append(i + 1)
            i += 1
            continue
        run: list[tuple[int, int, int]] = []  # (byte, start, end) of consecutive escapes
        while m is not None:
            run.append((int(m.group(1), 16), m.start(), m.end()))
            m = _PERCENT_BYTE.match(text, m.end())
        for ch, start, end in _decode(run):
            chars.append(_skeleton_of(ch))
            starts.append(start)
            ends.append(end)
        i = run[-1][2]
    return "".join(chars), starts, ends


def _decode(run: list[tuple[int, int, int]]) -> list[tuple[str, int, int]]:
    """UTF-8 characters of percent-escaped bytes, each with the span of its escapes."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    decoded: list[tuple[str, int, int]] = []
    first = -1  # where the bytes not yet decoded began
    for byte, start, end in run:
        if first < 0:
            first = start
        out = decoder.decode(bytes([byte]))
        decoded += [(ch, first, end) for ch in out]
        if out:
            first = start if decoder.getstate()[0] else -1
    decoded += [(ch, first, run[-1][2]) for ch in decoder.decode(b"", final=True)]
    return decoded


# ---------------------------------------------------------------- validation


def check_character(digits: str) -> str:
    """The check character of the nine digits DDMMYYZZZ."""
    return CHECK_CHARACTERS[int(digits) % 31]


def normalise_identity_code(text: str) -> str:
    """The code as the scanner reads it: upper case, without separators, any dash as "-",
    full-width and other Unicode digits and letters as ASCII."""
    skeleton = text.translate(_TABLE)
    return "".join(
        original if s == _OTHER else s
        for original, s in zip(text, skeleton, strict=True)
        if s not in _SEPARATORS
    )


def _date_fault(ddmmyy: str, sign: str, individual: str) -> Reason | None:
    """What is wrong with a code apart from its check character, or None."""
    century = CENTURY_SIGNS.get(sign)
    if century is None:
        return "century"
    try:
        date(century + int(ddmmyy[4:6]), int(ddmmyy[2:4]), int(ddmmyy[0:2]))
    except ValueError:
        return "date"
    if int(individual) < 2:
        return "format"
    return None


def validate_identity_code(text: str) -> str:
    """Return the normalised code, or raise InvalidIdentityCode with a reason."""
    code = normalise_identity_code(text)
    m = _SHAPE.fullmatch(code)
    if m is None:
        raise InvalidIdentityCode("format") from None
    day, month, yy, sign, individual, check = m.groups()
    # `from None` throughout: a chained message could reveal parts of the input.
    fault = _date_fault(day + month + yy, sign, individual)
    if fault is not None:
        raise InvalidIdentityCode(fault) from None
    if check != check_character(day + month + yy + individual):
        raise InvalidIdentityCode("check") from None
    return code


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


# ---------------------------------------------------------------- the scanner

# Separator characters allowed between two characters of a code ("DDMMYY - ZZZQ" has
# one on each side of the dash; a run of more is taken as the end of the code).
MAX_GAP = 3
_GAP = f"[{_SEPARATORS}]{{0,{MAX_GAP}}}"
# Date, century sign, individual number; the check character is judged in code.
_CORE = re.compile(
    rf"(?<![0-9])[0-9](?:{_GAP}[0-9]){{5}}{_GAP}[-+A-FU-Y](?:{_GAP}[0-9]){{3}}", re.ASCII
)
_CHECK_LIKE = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class FoundCode:
    """A code found in a text: ``text[start:end]`` is what was typed; ``code`` is its
    normalised form (10 characters when the check character is missing); ``verified``
    is True when its check character is right."""

    start: int
    end: int
    code: str
    verified: bool


def _next_solid(skeleton: str, index: int) -> tuple[int, str]:
    """The first non-separator at or after index within the gap: (position, character);
    (-1, "") when there is none (a longer run of separators, or the end)."""
    for position in range(index, min(index + MAX_GAP + 1, len(skeleton))):
        if skeleton[position] not in _SEPARATORS:
            return position, skeleton[position]
    return -1, ""


def _digit_before(skeleton: str, index: int) -> bool:
    """Whether a digit comes before index, separators within the gap skipped."""
    for position in range(index - 1, max(index - MAX_GAP - 2, -1), -1):
        if skeleton[position] not in _SEPARATORS:
            return skeleton[position].isdigit()
    return False


def _judge(skeleton: str, m: re.Match[str]) -> tuple[int, str, bool] | None:
    """A core match as a code: (end in the skeleton, code, verified); None if it is not.

    A code whose check character confirms it needs only not to continue a run of
    digits. A code whose check character is wrong or missing is a code as well (the
    right one is a recomputation away) but, having nothing to confirm it, must stand
    apart from other digits, separators skipped, so that number groups such as
    "110 500 - 120 000" are not taken for one.
    """
    typed = m.group(0)
    core = "".join(ch for ch in typed if ch not in _SEPARATORS)
    ddmmyy, sign, individual = core[:6], core[6], core[7:]
    if _date_fault(ddmmyy, sign, individual) is not None:
        return None
    right = check_character(ddmmyy + individual)
    position, check = _next_solid(skeleton, m.end())
    # Spaces may split the date or the number after the sign, not both: that is how
    # amounts are written ("211 285 - 5 894 €"), not codes.
    date_part, _, number_part = re.split(r"([-+A-Z])", typed, maxsplit=1)
    if check.isdigit():
        number_part += skeleton[m.end() : position + 1]
    if _SPACE in date_part.strip(_SEPARATORS) and _SPACE in number_part.strip(_SEPARATORS):
        return None
    after = skeleton[position + 1] if 0 <= position < len(skeleton) - 1 else ""
    if check == right and not (check.isdigit() and after.isdigit()):
        return position + 1, core + check, True
    alone = not _digit_before(skeleton, m.start())
    if check in _CHECK_LIKE and (position == m.end() or check.isdigit()):
        # A wrong check character: glued on, or a lone digit after a space.
        if alone and not _next_solid(skeleton, position + 1)[1].isdigit():
            return position + 1, core + check, False
        return None
    # No check character: what follows (a word, punctuation, the end) is not part of it.
    if alone and not check.isdigit():
        return m.end(), core, False
    return None


def find_identity_codes(text: str) -> list[FoundCode]:
    """Every personal identity code in a text, in order, as people type them."""
    skeleton, starts, ends = _skeleton(text)
    found: list[FoundCode] = []
    position = 0
    while (m := _CORE.search(skeleton, position)) is not None:
        judged = _judge(skeleton, m)
        if judged is None:
            position = m.start() + 1
            continue
        end, code, verified = judged
        found.append(FoundCode(starts[m.start()], ends[end - 1], code, verified))
        position = end
    return found


def redact_identity_codes(text: str, secret: bytes | Callable[[], bytes] | None) -> tuple[str, int]:
    """Replace every code in a text; return (text, how many were replaced).

    With a secret (or a function giving it, called only when a reference is needed), a
    code its check character confirms becomes its client reference; without one
    (logs), and for any code with a wrong or missing check character,
    ``REDACTION_MARK``. A corrected code would often be another person's: a mistyped
    digit is as likely as a mistyped check character, and a reference computed from
    the guess would file the record under a stranger.
    """
    found = find_identity_codes(text)
    if not found:
        return text, 0
    key: bytes | None = None
    if secret is not None and any(code.verified for code in found):
        key = secret() if callable(secret) else secret
        if not key:
            raise ValueError("pseudonymisation secret must not be empty")
    parts: list[str] = []
    done = 0
    for code in found:
        parts.append(text[done : code.start])
        if code.verified and key is not None:
            parts.append(pseudonymise(code.code, key))
        else:
            parts.append(REDACTION_MARK)
        done = code.end
    parts.append(text[done:])
    return "".join(parts), len(found)
