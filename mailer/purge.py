"""Removing the content of old sent and rejected messages (AVG: keep children's data no longer
than needed), keeping the fact that they existed and a journal line without personal data.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from mailer.journal import JournalEntry, append_entry
from mailer.outbox import Outbox, State, StoredMessage
from mailer.records import now_in_amsterdam
from mailer.review import check_person_name

__all__ = ["PURGEABLE", "finished_at", "purge_before"]

PURGEABLE = frozenset({State.SENT, State.REJECTED})


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


def purge_before(outbox: Outbox, before: datetime, by: str) -> list[str]:
    """Purge sent and rejected messages finished before `before`; return their IDs.

    The metadata is blanked first and the .eml removed after, so a crash in between leaves a
    purged message whose file the next purge removes.
    """
    by = check_person_name(by)
    purged = []
    for stored in outbox.messages():
        if stored.state not in PURGEABLE or finished_at(stored) >= before:
            continue
        if stored.purged and not outbox.eml_path(stored.id).exists():
            continue
        outbox.update_fields(stored.id, _blank)
        with contextlib.suppress(FileNotFoundError):
            outbox.eml_path(stored.id).unlink()
        append_entry(
            outbox.journal_path,
            JournalEntry(
                at=now_in_amsterdam(),
                message=stored.id,
                from_state=stored.state.value,
                to_state=stored.state.value,
                by=by,
                note=f"content purged (finished before {before:%Y-%m-%d})",
            ),
        )
        purged.append(stored.id)
    return purged
