"""deadlines: timers of the whole service, claimed by whichever node comes first

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 14:00:00

One row per timer (the retention purge first): its next due time. A node whose own
schedule says it is time claims the row when it is due (SELECT ... FOR UPDATE SKIP
LOCKED on PostgreSQL), moves the time on and does the work; the other nodes find it not
due. Nothing to move over: a timer with no row is due at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deadlines",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("deadlines")
