"""Each closed vocabulary is written once (liaison/domain/vocabulary.py); everything else
that names its values is held equal to it here."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, insert, text
from sqlalchemy.exc import IntegrityError

from liaison.domain import rings as ring_domain
from liaison.domain import vocabulary as v
from liaison.domain.errors import Refused
from liaison.store.models import Base, RingOffer
from liaison.web.labels import VOCABULARY_LABELS
from tests.conftest import Server


@pytest.mark.parametrize(("enum", "labels"), VOCABULARY_LABELS)
def test_every_value_has_a_label_and_every_label_a_value(
    enum: type[v.StrEnum], labels: dict[str, str]
) -> None:
    assert list(labels) == list(v.values(enum))


def test_the_ring_router_literals_are_the_vocabulary() -> None:
    """The router's own type aliases (Literal, for mypy) name the same values."""
    assert typing.get_args(ring_domain.Method) == v.values(v.RoutingMethod)
    assert typing.get_args(ring_domain.Urgency) == v.values(v.Urgency)
    assert typing.get_args(ring_domain.OfferOutcome) == v.values(v.OfferOutcome)
    assert typing.get_args(ring_domain.WithdrawReason) == v.values(v.WithdrawReason)


def test_chosen_values_are_a_subset_of_the_stored_ones() -> None:
    assert set(v.values(v.Outcome)) < set(v.values(v.RecordedOutcome))
    assert set(v.values(v.ManualStatus)) < set(v.values(v.PresenceStatus))
    assert set(v.values(v.CallbackUpdate)) < set(v.values(v.CallbackState))


def test_every_stored_vocabulary_is_a_check_constraint() -> None:
    for table, column, enum, _nullable in v.STORED:
        checks = {
            c.name: str(c.sqltext)
            for c in Base.metadata.tables[table].constraints
            if isinstance(c, CheckConstraint)
        }
        sql = checks[v.check_name(table, column)]
        assert all(f"'{value}'" in sql for value in v.values(enum))


@pytest.mark.database
async def test_the_database_refuses_a_value_outside_its_vocabulary(server: Server) -> None:
    """Migration 0007's CHECK constraints hold on SQLite and PostgreSQL alike."""
    row = {
        "question_id": "q1",
        "ring_id": "housing",
        "person_id": server.people["aino"],
        "offered_at": server.core.clock.now(),
        "ended_at": server.core.clock.now(),
        "reason": None,
    }
    async with server.core.db.begin() as db:
        await db.execute(insert(RingOffer).values(**row, outcome="missed"))
    with pytest.raises(IntegrityError):
        async with server.core.db.begin() as db:
            await db.execute(insert(RingOffer).values(**row, outcome="lost"))


@pytest.mark.database
async def test_the_migrated_database_checks_todays_vocabularies(server: Server) -> None:
    """A vocabulary changed without a migration that replaces its constraint fails here."""
    async with server.core.db() as db:
        for table, column, enum, _nullable in v.STORED:
            name = v.check_name(table, column)
            if db.bind.dialect.name == "sqlite":
                sql = await db.scalar(
                    text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                    {"t": table},
                )
                start = sql.index(f"CONSTRAINT {name} CHECK")
                sql = sql[start : sql.index(")", sql.index("IN (", start)) + 1]
            else:
                sql = await db.scalar(
                    text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
                    {"n": name},
                )
            found = sorted(re.findall(r"'([a-z_0-9]+)'", sql))
            assert found == sorted(v.values(enum)), (table, column, sql)


PACKAGE = Path(ring_domain.__file__).resolve().parent.parent


def _refusal_codes() -> set[tuple[str, str]]:
    """Every code a refusal is raised or answered with, as written in the code: the first
    argument of a Refused subclass (or of web's `error(status, code, ...)`) when literal."""
    refusals = {"Refused"}
    for module in PACKAGE.rglob("*.py"):
        tree = ast.parse(module.read_text(), str(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id == Refused.__name__ for base in node.bases
            ):
                refusals.add(node.name)
    found: set[tuple[str, str]] = set()
    for module in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            args = node.args
            if node.func.id == "error" and len(args) >= 2:
                args = args[1:]  # error(status, code, reason)
            elif node.func.id not in refusals:
                continue
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                found.add((f"{module.name}:{node.lineno}", args[0].value))
    return found


def test_every_refusal_code_in_the_code_is_an_error_code() -> None:
    """Web answers a refusal with ErrorCode(code): a code outside the vocabulary would be a
    server error instead of the refusal, so none may be written."""
    codes = _refusal_codes()
    assert len(codes) > 40  # the scan sees the services' refusals
    assert [(where, code) for where, code in codes if code not in v.values(v.ErrorCode)] == []
