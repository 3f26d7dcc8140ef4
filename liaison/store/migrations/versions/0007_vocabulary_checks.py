"""closed vocabularies checked by the database: one CHECK per column

Revision ID: 0007
Revises: 0006 (main's head when merged; written against 0004)
Create Date: 2026-11-30 23:40:00

The values are those of liaison/domain/vocabulary.py when this was written, copied so that
this migration never changes: a later change to a vocabulary needs a migration of its own
that replaces the constraint (tests/test_vocabulary.py fails until there is one).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, values, nullable)
CHECKED: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("presence_settings", "manual_status", ("available", "away", "dnd"), False),
    ("rings", "method", ("ring_all", "longest_idle", "round_robin", "serial"), False),
    ("consultations", "kind", ("ring", "named", "callback"), False),
    ("consultations", "urgency", ("normal", "urgent"), False),
    ("consultations", "legal_basis", ("client_consent", "client_present", "necessity_sa_18"), True),
    ("consultations", "state", ("waiting", "open", "closed", "cancelled", "timed_out"), False),
    (
        "consultations",
        "outcome",
        ("answered", "needs_follow_up", "forwarded", "callback_needed", "not_recorded"),
        True,
    ),
    (
        "consultations",
        "topic",
        (
            "statement",
            "missing_attachment",
            "clients_situation",
            "discretion",
            "urgent_need",
            "request_to_expedite",
        ),
        True,
    ),
    ("callback_requests", "state", ("open", "claimed", "done", "could_not_reach"), False),
    ("ring_legs", "urgency", ("normal", "urgent"), False),
    (
        "ring_legs",
        "outcome",
        ("waiting", "answered", "cancelled", "timed_out", "overflowed"),
        False,
    ),
    ("ring_offers", "outcome", ("accepted", "declined", "missed", "withdrawn"), False),
    (
        "ring_offers",
        "reason",
        ("taken", "cancelled", "timed_out", "overflowed", "signed_out", "unavailable"),
        True,
    ),
)


def _condition(column: str, values: tuple[str, ...], nullable: bool) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {condition}" if nullable else condition


def upgrade() -> None:
    for table, column, values, nullable in CHECKED:
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(
                f"ck_{table}_{column}", _condition(column, values, nullable)
            )


def downgrade() -> None:
    for table, column, _values, _nullable in reversed(CHECKED):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"ck_{table}_{column}", type_="check")
