"""The generated documents: made from the models, never written by hand.

`scripts/docs` writes them; `scripts/docs --check` (and tests/test_docs.py) fails when
the committed ones differ from what the code makes:

- docs/protocol.schema.json: a JSON Schema of every client and server frame;
- docs/openapi.json: the OpenAPI document that /api/openapi.json serves;
- in docs/protocol.md and docs/configuration.md, the parts between
  `<!-- generated: NAME -->` and `<!-- /generated: NAME -->`: the reference tables. The
  prose around them stays hand-written.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import msgspec
from msgspec import inspect

from liaison import config
from liaison.domain import vocabulary
from liaison.protocol import client, conversations, people, server
from liaison.protocol import load as load_shapes
from liaison.protocol import rings as ring_shapes
from liaison.protocol.common import Token, schema_hook
from liaison.protocol.reference import CLOSE_MEANING, ERROR_WHEN

DOCS = config.ROOT / "docs"


# ---------------------------------------------------------------- type descriptions


def _describe(t: Any) -> tuple[str, list[str], str]:
    """(type, rules, description) of an inspected type, for a table row."""
    description = ""
    rules: list[str] = []
    time = False
    while isinstance(t, inspect.Metadata):
        extra = t.extra_json_schema or {}
        description = description or extra.get("description", "")
        time = time or extra.get("format") == "date-time"
        t = t.type
    if isinstance(t, inspect.UnionType):
        parts = [_describe(m) for m in t.types]
        names = [p[0] for p in parts]
        for p in parts:
            rules += p[1]
            description = description or p[2]
        return " or ".join(names), rules, description
    if isinstance(t, inspect.NoneType):
        return "null", rules, description
    if isinstance(t, inspect.BoolType):
        return "boolean", rules, description
    if isinstance(t, inspect.IntType):
        if t.ge is not None and t.le is not None:
            rules.append(f"{_number(t.ge)} to {_number(t.le)}")
        elif t.ge is not None:
            rules.append(f"at least {_number(t.ge)}")
        return "integer", rules, description
    if isinstance(t, inspect.FloatType):
        if t.ge is not None and t.le is not None:
            rules.append(f"{t.ge:g} to {t.le:g}")
        elif t.ge is not None:
            rules.append(f"at least {t.ge:g}")
        return "number", rules, description
    if isinstance(t, inspect.StrType):
        if time:
            return "string (time)", rules, description
        if t.pattern:
            rules.append(f"matches `{t.pattern}`")
        if t.min_length or t.max_length:
            rules.append(f"{t.min_length or 0} to {t.max_length} characters")
        return "string", rules, description
    if isinstance(t, inspect.EnumType):
        values = ", ".join(f"`{m.value}`" for m in t.cls)
        rules.append(f"one of {values}")
        return "string", rules, description
    if isinstance(t, inspect.LiteralType):
        rules.append("one of " + ", ".join(f"`{json.dumps(v)}`".replace('"', "") for v in t.values))
        return "integer" if isinstance(t.values[0], int) else "string", rules, description
    if isinstance(t, inspect.DateTimeType):
        return "string (time with zone)" if t.tz else "string (time)", rules, description
    if isinstance(t, inspect.ListType):
        item, item_rules, _ = _describe(t.item_type)
        rules += [f"each: {r}" for r in item_rules]
        if t.max_length is not None:
            rules.append(f"at most {t.max_length} items")
        return f"array of {item}", rules, description
    if isinstance(t, inspect.DictType):
        key, key_rules, _ = _describe(t.key_type)
        value, value_rules, _ = _describe(t.value_type)
        rules += [f"keys: {r}" for r in key_rules] + [f"values: {r}" for r in value_rules]
        return f"object ({key} → {value})" if value != "any" else "object", rules, description
    if isinstance(t, inspect.StructType):
        return t.cls.__name__, rules, description or (t.cls.__doc__ or "").strip()
    if isinstance(t, inspect.CustomType) and t.cls is Token:
        rules.append("an opaque token (see [frames](#frames))")
        return "string", rules, description
    if isinstance(t, inspect.AnyType):
        return "any", rules, description
    return type(t).__name__, rules, description


def _number(n: int) -> str:
    for power in (31, 63):
        if n == 2**power - 1:
            return f"2^{power}-1"
        if n == -(2**power):
            return f"-2^{power}"
    return str(n)


def _default(field: inspect.Field) -> str:
    if field.required:
        return "yes"
    default = field.default
    if default is msgspec.UNSET or default is msgspec.NODEFAULT:
        if field.default_factory is not msgspec.NODEFAULT:
            default = field.default_factory()
        else:
            return "no"
    if isinstance(default, Enum):
        default = default.value
    return f"no (default `{json.dumps(default, ensure_ascii=False)}`)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _field_rows(cls: type[msgspec.Struct], *, with_required: bool) -> list[str]:
    info = inspect.type_info(cls)
    assert isinstance(info, inspect.StructType)
    rows = []
    for f in info.fields:
        if f.name == "ref":
            continue
        kind, rules, description = _describe(f.type)
        rule = "; ".join([*([description] if description else []), *rules])
        required = f" {_default(f)} |" if with_required else ""
        rows.append(f"| `{f.name}` | {_cell(kind)} |{required} {_cell(rule)} |")
    return rows


def client_frame_table(cls: type[client.ClientFrame]) -> str:
    rows = _field_rows(cls, with_required=True)
    head = "| field | type | required | rule |\n|---|---|---|---|\n"
    if not rows:
        return "No fields besides `type` and `ref`."
    return head + "\n".join(rows)


def client_frames_index() -> str:
    lines = ["| type | what it does | fields |", "|---|---|---|"]
    for tag, cls in client.BY_TAG.items():
        fields = ", ".join(f"`{f}`" for f in cls.__struct_fields__ if f != "ref") or "none"
        doc = (cls.__doc__ or "").strip().replace("\n", " ")
        lines.append(f"| `{tag}` | {_cell(re.sub(' +', ' ', doc))} | {fields} |")
    return "\n".join(lines)


# The shapes that frames carry, each with a table in docs/protocol.md ("Shapes").
SHAPES: tuple[type[msgspec.Struct], ...] = (
    server.WelcomeMe,
    server.ClientConfig,
    conversations.Message,
    conversations.Member,
    conversations.Conversation,
    conversations.ConversationSummary,
    people.PresenceView,
    people.PhoneHours,
    people.Person,
    people.OrganisationRef,
    people.Unit,
    ring_shapes.RingCounts,
    ring_shapes.RingSummary,
    ring_shapes.RingMemberState,
    ring_shapes.QuestionStatus,
    ring_shapes.Consultation,
    ring_shapes.CallbackRequest,
    load_shapes.RingLoad,
    load_shapes.LiveCounts,
    load_shapes.LoadFigures,
    load_shapes.CallbackCounts,
)


def shape_table(cls: type[msgspec.Struct]) -> str:
    doc = re.sub(r"\s+", " ", (cls.__doc__ or "").strip())
    head = "| field | type | rule |\n|---|---|---|\n"
    return f"{doc}\n\n{head}" + "\n".join(_field_rows(cls, with_required=False))


def server_frames_index() -> str:
    lines = ["| type | when | fields |", "|---|---|---|"]
    for cls in typing.get_args(server.ServerFrames):
        tag = cls.__struct_config__.tag
        fields = [f"`{f}`" for f in cls.__struct_fields__ if f != "ref"]
        if cls.__name__ not in ("Message", "Read", "Typing", "Presence", "Conversation"):
            fields.append("`ref`?")
        doc = re.sub(" +", " ", (cls.__doc__ or "").strip().replace("\n", " "))
        lines.append(f"| `{tag}` | {_cell(doc)} | {', '.join(fields)} |")
    return "\n".join(lines)


def error_codes_table() -> str:
    lines = ["| code | when |", "|---|---|"]
    for code, when in ERROR_WHEN.items():
        lines.append(f"| `{code.value}` | {when} |")
    return "\n".join(lines)


def close_codes_table() -> str:
    lines = ["| code | meaning | what a client should do |", "|---|---|---|"]
    for code, (meaning, action) in CLOSE_MEANING.items():
        lines.append(f"| {int(code)} | {meaning} | {action} |")
    return "\n".join(lines)


def vocabulary_table() -> str:
    lines = ["| vocabulary | values | meaning |", "|---|---|---|"]
    for name in vocabulary.__all_vocabularies__:
        enum = getattr(vocabulary, name)
        values = ", ".join(f"`{v}`" for v in vocabulary.values(enum))
        lines.append(f"| {name} | {values} | {_cell((enum.__doc__ or '').strip())} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- configuration


def settings_table(group: str) -> str:
    hints = typing.get_type_hints(config.Settings)
    lines = ["| variable | default | meaning | example |", "|---|---|---|---|"]
    for f in dataclasses.fields(config.Settings):
        doc: config.Doc = f.metadata["doc"]
        if doc.group != group:
            continue
        default = doc.shown_default or _setting_default(f.default)
        kind = config.kind_of(hints[f.name], doc)
        meaning = f"{kind[0].upper()}{kind[1:]}. {doc.meaning}"
        name = config.variable(f.name) if doc.env else f"`Settings.{f.name}`"
        name = f"`{name}`" if doc.env else name
        example = f"`{doc.example}`" if doc.example and doc.env else ""
        if doc.example.startswith("output of"):
            example = doc.example
        lines.append(f"| {name} | {default} | {_cell(meaning)} | {example} |")
    return "\n".join(lines)


def _setting_default(value: Any) -> str:
    if value == "" or value == ():
        return "*(empty)*"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


# ---------------------------------------------------------------- documents


def protocol_schema() -> str:
    """A JSON Schema (2020-12) of every frame, both ways."""
    (client_schema, server_schema), components = msgspec.json.schema_components(
        [client.ClientFrames, server.ServerFrames],
        schema_hook=schema_hook,
        ref_template="#/$defs/{name}",
    )
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Liaison WebSocket protocol (docs/protocol.md)",
        "description": "Every frame is one JSON object with a `type`. A client sends a "
        "ClientFrame; the server sends a ServerFrame. Generated by scripts/docs.",
        "$defs": {
            "ClientFrame": client_schema,
            "ServerFrame": server_schema,
            **components,
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def openapi_document() -> str:
    from liaison.web.openapi import DOCUMENT

    return json.dumps(DOCUMENT, indent=2, ensure_ascii=False) + "\n"


def sections() -> dict[str, Callable[[], str]]:
    """Every generated part of a hand-written document, by its marker's name."""
    parts: dict[str, Callable[[], str]] = {
        "client-frames": client_frames_index,
        "server-frames": server_frames_index,
        "error-codes": error_codes_table,
        "close-codes": close_codes_table,
        "vocabularies": vocabulary_table,
    }
    for tag, cls in client.BY_TAG.items():
        parts[f"frame {tag}"] = lambda cls=cls: client_frame_table(cls)  # type: ignore[misc]
    for shape in SHAPES:
        parts[f"shape {shape.__name__}"] = lambda shape=shape: shape_table(shape)  # type: ignore[misc]
    for group in config.GROUPS:
        parts[f"settings {group}"] = lambda group=group: settings_table(group)  # type: ignore[misc]
    return parts


_MARKED = re.compile(
    r"(<!-- generated: (?P<name>[^>]+?) -->\n)(?P<body>.*?)(<!-- /generated: (?P=name) -->)",
    re.DOTALL,
)


def fill(text: str) -> str:
    """The document with every marked part made afresh."""
    parts = sections()

    def one(m: re.Match[str]) -> str:
        make = parts.get(m["name"])
        if make is None:
            raise SystemExit(f"unknown generated section {m['name']!r}")
        return f"{m[1]}{make()}\n{m[4]}"

    return _MARKED.sub(one, text)


def documents() -> dict[Path, str]:
    """Every generated file, or file with generated parts, as the code makes it now."""
    made = {
        DOCS / "protocol.schema.json": protocol_schema(),
        DOCS / "openapi.json": openapi_document(),
    }
    for name in ("protocol.md", "configuration.md"):
        path = DOCS / name
        made[path] = fill(path.read_text())
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a committed document differs")
    args = parser.parse_args(argv)
    stale = []
    for path, text in documents().items():
        current = path.read_text() if path.exists() else ""
        if current != text:
            stale.append(path.relative_to(config.ROOT))
            if not args.check:
                path.write_text(text)
    if args.check and stale:
        names = ", ".join(str(p) for p in stale)
        print(f"out of date: {names}; run scripts/docs", file=sys.stderr)
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
