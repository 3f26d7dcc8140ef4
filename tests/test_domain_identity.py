from __future__ import annotations

import pytest

from liaison.domain.identity import (
    PSEUDONYM_ALPHABET,
    REDACTION_MARK,
    InvalidIdentityCode,
    find_identity_codes,
    normalise_identity_code,
    pseudonymise,
    redact_identity_codes,
    validate_identity_code,
)

SECRET = b"test-secret-0123456789abcdef"
CHECKS = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def make_code(ddmmyy: str, sign: str, individual: str) -> str:
    """Build a code with a correct check character (independent of the module)."""
    return f"{ddmmyy}{sign}{individual}{CHECKS[int(ddmmyy + individual) % 31]}"


def wrong_check(code: str) -> str:
    right = code[-1]
    other = next(c for c in CHECKS if c != right)
    return code[:-1] + other


@pytest.mark.parametrize(
    ("sign", "ddmmyy"),
    [
        ("+", "150385"),
        ("-", "150385"),
        ("Y", "150385"),
        ("X", "150385"),
        ("W", "150385"),
        ("V", "150385"),
        ("U", "150385"),
        ("A", "150305"),
        ("B", "150305"),
        ("C", "150305"),
        ("D", "150305"),
        ("E", "150305"),
        ("F", "150305"),
    ],
)
def test_valid_for_every_century_sign(sign: str, ddmmyy: str) -> None:
    code = make_code(ddmmyy, sign, "234")
    assert validate_identity_code(code) == code


def test_normalises_case_and_whitespace() -> None:
    code = make_code("010190", "-", "123")
    messy = f"  {code.lower()}\n"
    assert normalise_identity_code(messy) == code
    assert validate_identity_code(messy) == code


@pytest.mark.parametrize("individual", ["002", "899", "900", "999"])
def test_individual_number_range_accepted(individual: str) -> None:
    code = make_code("010190", "-", individual)
    assert validate_identity_code(code) == code


@pytest.mark.parametrize("individual", ["000", "001"])
def test_individual_number_000_001_rejected(individual: str) -> None:
    with pytest.raises(InvalidIdentityCode) as info:
        validate_identity_code(make_code("010190", "-", individual))
    assert info.value.reason == "format"


@pytest.mark.parametrize(
    "text",
    ["", "010190-12", "010190-1234A", "010190-12A4", "01019a-123A", "010190--123A", "x" * 11],
)
def test_bad_format(text: str) -> None:
    with pytest.raises(InvalidIdentityCode) as info:
        validate_identity_code(text)
    assert info.value.reason == "format"


def test_invalid_century_sign() -> None:
    digits_ok = make_code("010190", "-", "123")
    for sign in ["G", "Z", "*", "T"]:
        with pytest.raises(InvalidIdentityCode) as info:
            validate_identity_code(digits_ok[:6] + sign + digits_ok[7:])
        assert info.value.reason == "century"


@pytest.mark.parametrize("ddmmyy", ["320190", "310490", "001290", "011390", "000190"])
def test_invalid_date(ddmmyy: str) -> None:
    with pytest.raises(InvalidIdentityCode) as info:
        validate_identity_code(make_code(ddmmyy, "-", "123"))
    assert info.value.reason == "date"


def test_leap_day_depends_on_century() -> None:
    assert validate_identity_code(make_code("290200", "A", "123"))  # 2000 is a leap year
    assert validate_identity_code(make_code("290204", "-", "123"))  # 1904 too
    for ddmmyy, sign in [("290201", "A"), ("290200", "-"), ("290200", "+")]:
        # 2001 no; 1900 and 1800 are not leap years (divisible by 100, not 400).
        with pytest.raises(InvalidIdentityCode) as info:
            validate_identity_code(make_code(ddmmyy, sign, "123"))
        assert info.value.reason == "date"


def test_invalid_check_character() -> None:
    code = make_code("010190", "-", "123")
    with pytest.raises(InvalidIdentityCode) as info:
        validate_identity_code(wrong_check(code))
    assert info.value.reason == "check"
    # Letters never used as check characters are also a check failure.
    with pytest.raises(InvalidIdentityCode) as info:
        validate_identity_code(code[:-1] + "G")
    assert info.value.reason == "check"


def test_error_message_never_contains_the_code() -> None:
    good = make_code("010190", "-", "123")
    samples = [wrong_check(good), make_code("320190", "-", "123"), good[:6] + "G" + good[7:]]
    for bad in samples:
        with pytest.raises(InvalidIdentityCode) as info:
            validate_identity_code(bad)
        err = info.value
        for rendered in (str(err), repr(err), str(err.args)):
            assert bad not in rendered
            assert bad[:6] not in rendered
            assert bad[7:10] not in rendered
        assert err.__cause__ is None
        assert err.__suppress_context__


def test_pseudonym_stable_shape_and_secret_dependent() -> None:
    code = make_code("010190", "-", "123")
    token = pseudonymise(code, SECRET)
    assert token == pseudonymise(f" {code.lower()} ", SECRET)
    assert token != pseudonymise(code, b"another-deployment-secret")
    assert token != pseudonymise(make_code("010190", "-", "124"), SECRET)
    assert token.startswith("AR-")
    prefix, first, second = token.split("-")
    assert prefix == "AR"
    assert len(first) == len(second) == 5
    assert all(c in PSEUDONYM_ALPHABET for c in first + second)
    assert code not in token


def test_pseudonymise_validates_and_needs_secret() -> None:
    code = make_code("010190", "-", "123")
    with pytest.raises(InvalidIdentityCode):
        pseudonymise(wrong_check(code), SECRET)
    with pytest.raises(ValueError):
        pseudonymise(code, b"")


def test_redaction_in_sentence() -> None:
    first = make_code("241170", "-", "345")
    second = make_code("030412", "A", "908").lower()  # typed in lower case, temporary code
    mistyped = wrong_check(make_code("150592", "-", "777"))
    wrong_date = make_code("320592", "-", "777")  # 32nd: not a date, so not a code
    text = (
        f"Asiakas {first} ja puoliso ({second}) kysyvät asumistuesta; "
        f"lapsen tunnus {mistyped}, viite {wrong_date}."
    )
    redacted, count = redact_identity_codes(text, SECRET)
    assert count == 3
    for code in (first, second, second.upper(), mistyped):
        assert code not in redacted
    assert wrong_date in redacted
    assert pseudonymise(first, SECRET) in redacted
    assert pseudonymise(second, SECRET) in redacted
    # A code its check character does not confirm gets the mark, not a guessed reference.
    assert f"tunnus {REDACTION_MARK}," in redacted
    assert pseudonymise(make_code("150592", "-", "777"), SECRET) not in redacted
    assert redacted.startswith("Asiakas AR-")
    found = find_identity_codes(text)
    assert [(f.code, f.verified) for f in found] == [
        (first, True),
        (second.upper(), True),
        (mistyped, False),
    ]
    assert [text[f.start : f.end] for f in found] == [first, second, mistyped]


def test_redaction_is_idempotent_and_keeps_references() -> None:
    code = make_code("241170", "-", "345")
    once, count = redact_identity_codes(f"a {code} b {code[:-1]}", SECRET)
    assert count == 2
    assert redact_identity_codes(once, SECRET) == (once, 0)
    assert redact_identity_codes(pseudonymise(code, SECRET), SECRET)[1] == 0


def test_without_a_secret_every_code_gets_the_mark() -> None:
    code = make_code("241170", "-", "345")
    assert redact_identity_codes(f"x {code} y", None) == (f"x {REDACTION_MARK} y", 1)
    with pytest.raises(ValueError):
        redact_identity_codes(code, b"")


def test_glued_to_letters_but_not_to_digits() -> None:
    code = make_code("241170", "-", "345")
    assert [f.code for f in find_identity_codes(f"x{code}")] == [code]
    assert [f.code for f in find_identity_codes(f"hetu:{code}.")] == [code]
    assert [f.code for f in find_identity_codes(f"hetu_{code}")] == [code]
    assert find_identity_codes(f"9{code}") == []  # a longer number, not a code
    assert redact_identity_codes("nothing here 123456-7890", SECRET) == (
        "nothing here 123456-7890",
        0,
    )
