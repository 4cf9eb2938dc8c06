"""Changing the outbox behind the program's back, as a hand edit or a damaged disk would: the
tests use these to check that the program notices, never to set up an ordinary state."""

from __future__ import annotations

from sqlalchemy import update

from mailer.outbox.schema import messages
from mailer.outbox.store import Outbox, sha256_hex


def overwrite_stored_bytes(outbox: Outbox, message_id: str, data: bytes) -> None:
    """Replace a message's bytes without a state change or a new hash."""
    with outbox.engine.begin() as connection:
        connection.execute(update(messages).where(messages.c.id == message_id).values(content=data))


def replace_message_keeping_approval(outbox: Outbox, message_id: str, data: bytes) -> None:
    """Replace a message's bytes and their recorded hash, leaving its approval as it was: what
    a store that forgot to withdraw an approval would leave."""
    stored = outbox.load(message_id, with_history=False)
    changed = stored.model_copy(update={"sha256": sha256_hex(data)})
    with outbox.engine.begin() as connection:
        connection.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(
                content=data,
                sha256=changed.sha256,
                document=changed.model_dump_json(exclude={"history"}),
            )
        )


def change_metadata(outbox: Outbox, message_id: str, **fields: object) -> None:
    """Change a message's metadata (its recipients, say) without a state change, an approval
    or a journal line."""
    stored = outbox.load(message_id, with_history=False).model_copy(update=fields)
    with outbox.engine.begin() as connection:
        connection.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(document=stored.model_dump_json(exclude={"history"}))
        )


def damage_metadata(outbox: Outbox, message_id: str) -> None:
    """Leave a message's metadata unreadable."""
    with outbox.engine.begin() as connection:
        connection.execute(
            update(messages).where(messages.c.id == message_id).values(document="{half")
        )
