"""Alembic migrations of the outbox schema (run through `mailer.outbox.database.upgrade_schema`)."""
