"""The first outbox schema: messages, record keys and the journal.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(8), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("record_key", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
    )
    op.create_index("messages_in_order", "messages", ["created_at", "id"])
    op.create_index("messages_by_state", "messages", ["state", "created_at", "id"])
    op.create_index("messages_by_record", "messages", ["record_key"])
    op.create_table(
        "record_keys",
        sa.Column("record_key", sa.String(200), primary_key=True),
        sa.Column("message_id", sa.String(8), nullable=False),
    )
    op.create_table(
        "journal",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("message_id", sa.String(8), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
    )
    op.create_index("journal_by_message", "journal", ["message_id", "seq"])


def downgrade() -> None:
    op.drop_table("journal")
    op.drop_table("record_keys")
    op.drop_table("messages")
