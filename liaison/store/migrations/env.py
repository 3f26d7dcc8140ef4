"""Alembic environment: the connection is handed in by liaison.store.db.migrate."""

from __future__ import annotations

from alembic import context

from liaison.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `liaison migrate`, which supplies the connection")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
