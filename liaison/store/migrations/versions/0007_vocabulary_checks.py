"""closed vocabularies checked by the database: one CHECK per column, from the StrEnums

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-30 23:40:00
"""

from collections.abc import Sequence

from alembic import op

from liaison.domain import vocabulary

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The values are those of liaison/domain/vocabulary.py when this ran; a later change
    # to a vocabulary needs a migration of its own that replaces the constraint.
    for table, column, enum, nullable in vocabulary.STORED:
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(
                vocabulary.check_name(table, column),
                vocabulary.check_sql(column, enum, nullable),
            )


def downgrade() -> None:
    for table, column, _enum, _nullable in reversed(vocabulary.STORED):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(vocabulary.check_name(table, column), type_="check")
