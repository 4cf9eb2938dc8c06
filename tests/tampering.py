"""Changing the outbox behind the program's back, as a hand edit or a damaged disk would: the
tests use these to check that the program notices, never to set up an ordinary state."""

from __future__ import annotations

from sqlalchemy import update

from mailer.outbox.schema import messages
from mailer.outbox.store import Outbox


def overwrite_stored_bytes(outbox: Outbox, message_id: str, data: bytes) -> None:
    """Replace a message's bytes without a state change or a new hash."""
    with outbox.engine.begin() as connection:
        connection.execute(update(messages).where(messages.c.id == message_id).values(content=data))


def damage_metadata(outbox: Outbox, message_id: str) -> None:
    """Leave a message's metadata unreadable."""
    with outbox.engine.begin() as connection:
        connection.execute(
            update(messages).where(messages.c.id == message_id).values(document="{half")
        )
