"""The generated documents are those the code makes: a change to a frame, a setting or a
vocabulary fails here until `scripts/docs` has been run and its output committed."""

from __future__ import annotations

import json

import pytest

from liaison import docgen
from liaison.protocol import client


@pytest.mark.parametrize("path", sorted(docgen.documents()), ids=lambda p: p.name)
def test_committed_document_is_what_the_code_generates(path: object) -> None:
    made = docgen.documents()
    assert path.read_text() == made[path], (  # type: ignore[attr-defined]
        f"{path} is out of date: run scripts/docs and commit the result"
    )


def test_every_client_frame_has_a_field_table_or_a_row() -> None:
    protocol = (docgen.DOCS / "protocol.md").read_text()
    for tag in client.BY_TAG:
        assert f"| `{tag}` |" in protocol


def test_the_protocol_schema_names_every_frame() -> None:
    schema = json.loads(docgen.protocol_schema())
    tags = {
        d["properties"]["type"]["enum"][0]
        for name, d in schema["$defs"].items()
        if "properties" in d and "type" in d["properties"]
    }
    assert set(client.BY_TAG) <= tags


def test_a_changed_model_makes_the_check_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a newcomer sees after adding a field without regenerating the docs."""
    original = docgen.client_frame_table
    monkeypatch.setattr(
        docgen, "client_frame_table", lambda cls: original(cls) + "\n| `new` | string | no | |"
    )
    assert docgen.main(["--check"]) == 1
