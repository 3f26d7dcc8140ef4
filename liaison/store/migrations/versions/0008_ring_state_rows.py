"""ring routing state as rows: one per ring, member and open question, and a lock row

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:20:00

The router's state was one JSON document rewritten whole on every change. It is split
into the pieces the router keeps (liaison/domain/rings.py, RouterParts), so a change writes
only what it touched, and every node routes on the same rows in turn (ring_routing).
The document's data is moved over as it was; closed questions are not kept.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = ("waiting", "offered")


def upgrade() -> None:
    routing = op.create_table(
        "ring_routing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    rings = op.create_table(
        "ring_states",
        sa.Column("ring_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("ring_id"),
    )
    members = op.create_table(
        "ring_member_states",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("person_id"),
    )
    questions = op.create_table(
        "ring_questions",
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("question_id"),
    )
    bind = op.get_bind()
    row = bind.execute(sa.text("SELECT state, updated_at FROM router_state WHERE id = 1")).first()
    document = {} if row is None else row[0]
    if isinstance(document, str):
        document = json.loads(document)
    op.bulk_insert(
        routing,
        [
            {
                "id": 1,
                "version": 1,
                "seq": int(document.get("seq", 0)),
                "updated_at": datetime.now(UTC),
            }
        ],
    )
    op.bulk_insert(
        rings, [{"ring_id": r["config"]["id"], "state": r} for r in document.get("rings", [])]
    )
    op.bulk_insert(
        members, [{"person_id": int(p["id"]), "state": p} for p in document.get("people", [])]
    )
    op.bulk_insert(
        questions,
        [
            {"question_id": chain[0]["id"], "state": chain}
            for chain in document.get("questions", [])
            if chain and chain[-1]["state"] in OPEN
        ],
    )
    op.drop_table("router_state")


def downgrade() -> None:
    op.create_table(
        "router_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    bind = op.get_bind()
    seq = bind.execute(sa.text("SELECT seq FROM ring_routing WHERE id = 1")).scalar() or 0

    def states(query: str) -> list[object]:
        return [json.loads(s) if isinstance(s, str) else s for (s,) in bind.execute(sa.text(query))]

    document = {
        "version": 1,
        "seq": seq,
        "rings": states("SELECT state FROM ring_states ORDER BY ring_id"),
        "people": states("SELECT state FROM ring_member_states ORDER BY person_id"),
        "questions": states("SELECT state FROM ring_questions ORDER BY question_id"),
    }
    router_state = sa.table(
        "router_state",
        sa.column("id", sa.Integer()),
        sa.column("state", sa.JSON()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(router_state, [{"id": 1, "state": document, "updated_at": datetime.now(UTC)}])
    op.drop_table("ring_questions")
    op.drop_table("ring_member_states")
    op.drop_table("ring_states")
    op.drop_table("ring_routing")
