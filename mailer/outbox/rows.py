"""How a message and a journal line map to rows of the outbox's tables, and back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert

from mailer.clock import AMSTERDAM
from mailer.errors import OutboxError
from mailer.i18n import _
from mailer.outbox.models import HistoryEntry, JournalEntry, StoredMessage
from mailer.outbox.schema import journal
from mailer.outbox.states import State

__all__ = [
    "DamagedMessage",
    "history_entry",
    "journal_entry",
    "parsed_message",
    "row_values",
    "write_journal",
]


class DamagedMessage(OutboxError):
    """A message's metadata in the database cannot be read (changed by hand)."""


def row_values(stored: StoredMessage, changed_at: datetime) -> dict[str, Any]:
    """The row of a message: the columns queries look it up by, and its metadata as JSON (the
    same values, so that one read gives the whole message)."""
    return {
        "id": stored.id,
        "state": stored.state.value,
        "record_key": stored.record_key,
        "created_at": stored.created_at,
        "changed_at": changed_at,
        "sha256": stored.sha256,
        "document": stored.model_dump_json(exclude={"history"}),
    }


def write_journal(connection: Connection, lines: Sequence[tuple[str, HistoryEntry, str]]) -> None:
    if not lines:
        return
    connection.execute(
        insert(journal),
        [
            {
                "at": entry.at,
                "message_id": message_id,
                "from_state": entry.from_state.value if entry.from_state else None,
                "to_state": entry.to_state.value,
                "by": entry.by,
                "note": entry.note,
                "reply": reply,
            }
            for message_id, entry, reply in lines
        ],
    )


def journal_entry(row: Row[Any]) -> JournalEntry:
    return JournalEntry(
        at=row.at.astimezone(AMSTERDAM),
        message=row.message_id,
        from_state=row.from_state,
        to_state=row.to_state,
        by=row.by,
        note=row.note,
        reply=row.reply,
    )


def history_entry(row: Row[Any]) -> HistoryEntry:
    return HistoryEntry(
        at=row.at.astimezone(AMSTERDAM),
        from_state=State(row.from_state) if row.from_state else None,
        to_state=State(row.to_state),
        by=row.by,
        note=row.note,
    )


def parsed_message(message_id: str, document: str) -> StoredMessage:
    try:
        return StoredMessage.model_validate_json(document)
    except ValueError:
        # Never echo the content: it holds children's data.
        raise DamagedMessage(
            _(
                "{id}: the outbox's record of this message is damaged and cannot be read; "
                "restore the outbox from a backup"
            ).format(id=message_id)
        ) from None
