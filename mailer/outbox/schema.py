"""The outbox's tables, as SQLAlchemy Core sees them; `migrations/` creates and upgrades them.

- `messages`: one row per message: its state, its exact bytes (`content`, NULL once purged) with
  their SHA-256, and the rest of its metadata as one JSON document (`StoredMessage` without the
  columns beside it). What a command looks messages up by has a column and an index.
- `record_keys`: which message holds a record, so that queueing a file twice makes no second
  message; an updated invitation takes the key over.
- `journal`: one row per state change, written in the same transaction as the change. It names
  messages by ID and holds no personal data, so it outlives a purge; a message's history is its
  rows here.
- `send_pace` and `send_reservations`: the pace of each sending mailbox, shared by every sender
  process using this outbox (see `outbox.pace`): when the next message may start, and which
  messages took a start in the last 24 hours with how many recipients (the daily cap).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "SCHEMA_REVISION",
    "UtcDateTime",
    "journal",
    "messages",
    "metadata",
    "record_keys",
    "send_pace",
    "send_reservations",
]

# The Alembic revision these tables are (`migrations/versions/`); a test keeps them in step.
SCHEMA_REVISION = "0002"


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored as UTC without a zone (SQLite has no zones; on PostgreSQL the
    same plain `timestamp` keeps both engines alike) and read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the outbox stores only aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

messages = Table(
    "messages",
    metadata,
    Column("id", String(8), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("record_key", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("document", Text(), nullable=False),
    # Last: SQLite keeps a row's columns in this order and a large value runs over into
    # overflow pages, which a read of any later column would have to walk through.
    Column("content", LargeBinary(), nullable=True),
    # Listings read messages a page at a time in queueing order, all or those in one state.
    Index("messages_in_order", "created_at", "id"),
    Index("messages_by_state", "state", "created_at", "id"),
    Index("messages_by_record", "record_key"),
)

record_keys = Table(
    "record_keys",
    metadata,
    Column("record_key", String(200), primary_key=True),
    Column("message_id", String(8), nullable=False),
)

journal = Table(
    "journal",
    metadata,
    Column("seq", Integer(), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("message_id", String(8), nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("by", String(200), nullable=False),
    Column("note", Text(), nullable=False),
    Column("reply", Text(), nullable=False),
    Index("journal_by_message", "message_id", "seq"),
)

# Times here are seconds since the epoch (floats): processes on several computers compare them,
# and a pace of ten a second needs more than whole seconds.
send_pace = Table(
    "send_pace",
    metadata,
    Column("mailbox", String(320), primary_key=True),
    Column("next_at", Float(), nullable=False),
)

send_reservations = Table(
    "send_reservations",
    metadata,
    Column("seq", Integer(), primary_key=True, autoincrement=True),
    Column("mailbox", String(320), nullable=False),
    Column("message_id", String(8), nullable=False),
    Column("at", Float(), nullable=False),
    Column("recipients", Integer(), nullable=False),
    Index("send_reservations_by_mailbox", "mailbox", "at"),
    Index("send_reservations_by_message", "message_id"),
)
