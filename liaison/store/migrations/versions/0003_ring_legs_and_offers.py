"""ring legs and offers: the load view's record

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ring_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("ring_id", sa.String(length=64), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("answered_by", sa.Integer(), sa.ForeignKey("people.id"), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("missed_offers", sa.Integer(), nullable=False),
        sa.Column("declined_offers", sa.Integer(), nullable=False),
        sa.Column("target_answer_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "ring_id", "entered_at"),
    )
    op.create_index("ix_ring_legs_question_id", "ring_legs", ["question_id"])
    op.create_index("ix_ring_legs_ring_entered", "ring_legs", ["ring_id", "entered_at"])
    op.create_table(
        "ring_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("ring_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ring_offers_person_id", "ring_offers", ["person_id"])
    op.create_index("ix_ring_offers_ring_ended", "ring_offers", ["ring_id", "ended_at"])


def downgrade() -> None:
    op.drop_table("ring_offers")
    op.drop_table("ring_legs")
