"""Unicode case-folded match keys for areas (SQLite's lower() folds only ASCII)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("units", "rings", "named_contacts")


def _match_key(text: str) -> str:
    # A copy of liaison.domain.directory.match_key as of this revision: a migration must
    # not change meaning when the application's code does.
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("area_key", sa.String(length=200), nullable=False, server_default="")
            )
    connection = op.get_bind()
    for table in TABLES:
        t = sa.table(table, sa.column("id"), sa.column("area", sa.String))
        key = sa.table(table, sa.column("id"), sa.column("area_key", sa.String))
        rows = connection.execute(sa.select(t.c.id, t.c.area)).all()
        for row_id, area in rows:
            if area:
                connection.execute(
                    sa.update(key).where(key.c.id == row_id).values(area_key=_match_key(area))
                )


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("area_key")
