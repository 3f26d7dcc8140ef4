"""rings that reach people: phone-hours rings, consultation idleness and notes, offer reasons

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rings") as batch:
        batch.add_column(
            sa.Column("phone_hours_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("consultations") as batch:
        batch.add_column(sa.Column("asker_note", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("kept_open_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("ring_offers") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ring_offers") as batch:
        batch.drop_column("reason")
    with op.batch_alter_table("consultations") as batch:
        batch.drop_column("reminded_at")
        batch.drop_column("kept_open_at")
        batch.drop_column("asker_note")
    with op.batch_alter_table("rings") as batch:
        batch.drop_column("phone_hours_only")
