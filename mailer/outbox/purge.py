"""Removing the content of old sent, failed and rejected messages (AVG: keep children's data no
longer than needed), keeping the fact that they existed and a journal line without personal data.
Every copy goes: the message file, its HTML preview and temporary files left by a crash.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import Any

from mailer.clock import now_in_amsterdam
from mailer.durable import swap_path
from mailer.journal import JournalEntry, append_entries
from mailer.outbox.store import Outbox, State, StoredMessage
from mailer.review.decisions import check_person_name

__all__ = ["PURGEABLE", "finished_at", "purge_before"]

# A failed message stays failed until a person retries or rejects it; if nobody does, its
# content must still go in time.
PURGEABLE = frozenset({State.SENT, State.REJECTED, State.FAILED})


def finished_at(stored: StoredMessage) -> datetime:
    """When the message reached its final state (its last history entry)."""
    return stored.history[-1].at if stored.history else stored.created_at


def _blank(stored: StoredMessage) -> dict[str, Any]:
    """Every field that can hold a name, an address or a reply that names one."""
    update: dict[str, Any] = {
        "to": [],
        "subject": "",
        "child_name": "",
        "record": {},
        "purged": True,
        "last_error": None,
        "attempts": [attempt.model_copy(update={"reply": ""}) for attempt in stored.attempts],
    }
    if stored.delivery is not None:
        update["delivery"] = stored.delivery.model_copy(update={"reply": "", "refused": {}})
    if stored.rejection is not None:
        update["rejection"] = stored.rejection.model_copy(update={"reason": "(purged)"})
    return update


def _copies(outbox: Outbox, message_id: str) -> list[Path]:
    """Every file besides the metadata that may hold the message's content.

    `mailer show --html` writes `previews/ID.html`; a crash during a durable write leaves
    `.NAME.PID.tmp` beside the file, and the metadata's swap file holds its version before
    the last change (see `durable`).
    """
    previews = outbox.directory / "previews"
    found = [
        outbox.eml_path(message_id),
        previews / f"{message_id}.html",
        swap_path(outbox.messages_dir / f"{message_id}.json"),
    ]
    for folder in (outbox.messages_dir, previews):
        if folder.is_dir():
            found.extend(folder.glob(f".{message_id}.*.tmp"))
    return [path for path in found if path.exists()]


def _remove_copies(outbox: Outbox, message_id: str) -> None:
    # Under the message's lock: a state change writing its temporary file is not disturbed.
    with outbox.locked(message_id):
        for path in _copies(outbox, message_id):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def purge_before(outbox: Outbox, before: datetime, by: str) -> list[str]:
    """Purge sent, failed and rejected messages finished before `before`; return their IDs.

    The metadata is blanked first and the files removed after, so a crash in between leaves a
    purged message whose files the next purge removes.
    """
    by = check_person_name(by)
    purged = []
    for stored in outbox.messages():
        if stored.state not in PURGEABLE or finished_at(stored) >= before:
            continue
        if stored.purged and not _copies(outbox, stored.id):
            continue
        outbox.update_fields(stored.id, _blank)
        _remove_copies(outbox, stored.id)
        entry = JournalEntry(
            at=now_in_amsterdam(),
            message=stored.id,
            from_state=stored.state.value,
            to_state=stored.state.value,
            by=by,
            note=f"content purged (finished before {before:%Y-%m-%d})",
        )
        append_entries(outbox.journal_path, [entry])
        purged.append(stored.id)
    return purged
