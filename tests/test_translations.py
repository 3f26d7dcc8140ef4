"""Messages made in Python and shown in the reader's language (marked N_: import
problems, the phone rule) have a Finnish and a Swedish text, with the same slots."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import liaison
from liaison.domain.directory import ImportFileError, validate_rows

PACKAGE = Path(liaison.__file__).parent
SLOT = re.compile(r"\{(\w+)\}")


def marked_messages() -> set[str]:
    """Every N_("...") in the package, as the catalogs' extraction reads them."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "N_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


@pytest.mark.parametrize("language", ["fi", "sv"])
def test_every_marked_message_is_translated_with_the_same_slots(language: str) -> None:
    messages = marked_messages()
    assert len(messages) > 30  # the import's problems, at least
    with (PACKAGE / "locale" / language / "LC_MESSAGES" / "liaison.po").open("rb") as f:
        catalog = {m.id: m.string for m in read_po(f) if isinstance(m.id, str)}
    for message in sorted(messages):
        translated = catalog.get(message)
        assert translated, f"{language}: no translation of {message!r}"
        assert set(SLOT.findall(translated)) == set(SLOT.findall(message)), (language, message)


def test_import_problems_carry_their_template_and_values() -> None:
    rows = [(2, {"email": "a@kela.example", "first_name": "A", "last_name": "B",
                 "organisation": "Kela", "organisation_kind": "kela", "roles": "astronautti"})]  # fmt: skip
    _, errors = validate_rows(rows, {}, {})
    (error,) = errors
    assert error.message in marked_messages()
    assert error.values == {
        "value": "'astronautti'",
        "column": "roles",
        "known": error.values["known"],
    }
    assert error.reason.startswith("unknown value 'astronautti' in roles; known: ")
    problem = ImportFileError("the file has more than {limit} rows; split it", limit=10)
    assert str(problem) == "the file has more than 10 rows; split it"
    assert problem.values == {"limit": "10"}
