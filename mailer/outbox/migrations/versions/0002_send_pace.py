"""The pace of each sending mailbox, shared by every sender process: send_pace and
send_reservations.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_pace",
        sa.Column("mailbox", sa.String(320), primary_key=True),
        sa.Column("next_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "send_reservations",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("mailbox", sa.String(320), nullable=False),
        sa.Column("message_id", sa.String(8), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
    )
    op.create_index("send_reservations_by_mailbox", "send_reservations", ["mailbox", "at"])
    op.create_index("send_reservations_by_message", "send_reservations", ["message_id"])


def downgrade() -> None:
    op.drop_table("send_reservations")
    op.drop_table("send_pace")
