"""routing state rows carry the version that wrote them; closed questions leave a mark

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 01:40:00

A node that follows another's routing changes reads only the rows written since the
version it holds (`version > held`), and the questions closed since (`ring_questions_gone`,
kept for a window of versions), instead of every row after every change. Rows written
before carry version 0: a node reads them with its first full read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("ring_states", "ring_member_states", "ring_questions")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
        op.create_index(f"ix_{table}_version", table, ["version"])
    op.create_table(
        "ring_questions_gone",
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("question_id"),
    )
    op.create_index("ix_ring_questions_gone_version", "ring_questions_gone", ["version"])


def downgrade() -> None:
    op.drop_index("ix_ring_questions_gone_version", table_name="ring_questions_gone")
    op.drop_table("ring_questions_gone")
    for table in TABLES:
        op.drop_index(f"ix_{table}_version", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
