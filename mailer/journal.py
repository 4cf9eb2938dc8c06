"""The audit journal: an append-only JSON Lines file with one line per state change.

A line names the message by its outbox ID and holds no personal data (no names, no addresses), so
it can be kept after a message's content is purged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from mailer.durable import append_lines

__all__ = ["JournalEntry", "append_entries", "read_entries"]


class JournalEntry(BaseModel):
    """One state change of one message."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    message: str
    from_state: str | None
    to_state: str
    by: str
    note: str = ""
    reply: str = ""


def append_entries(path: Path, entries: Sequence[JournalEntry]) -> None:
    """Append entries durably, in one write (a sender's batch of state changes)."""
    append_lines(path, [entry.model_dump_json().encode("utf-8") for entry in entries])


def read_entries(path: Path, message: str | None = None) -> Iterator[JournalEntry]:
    """Every entry in order, or only those of one message."""
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                entry = JournalEntry.model_validate_json(line)
            except ValueError:
                # A line cut short by a crash or a full disk: the metadata files still hold
                # every state, so the journal reader passes over it instead of failing.
                continue
            if message is None or entry.message == message:
                yield entry
