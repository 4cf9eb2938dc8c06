"""Alembic's entry point: migrate on the connection that `upgrade_schema` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from mailer.outbox.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through `mailer db upgrade`, which opens the database")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
