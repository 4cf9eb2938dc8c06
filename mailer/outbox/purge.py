"""Removing the content of old sent, failed and rejected messages (AVG: keep children's data no
longer than needed), keeping the fact that they existed and a journal line without personal data.
Every copy goes: the message's bytes and metadata in the outbox, and its HTML preview.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from mailer.errors import OutboxError
from mailer.outbox.store import Outbox, State, StoredMessage
from mailer.review.decisions import check_person_name

__all__ = ["PURGEABLE", "purge_before"]

# A failed message stays failed until a person retries or rejects it; if nobody does, its
# content must still go in time.
PURGEABLE = frozenset({State.SENT, State.REJECTED, State.FAILED})


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


def _still_finished(stored: StoredMessage) -> dict[str, Any]:
    """`_blank`, checked inside the purge's transaction: the message is still finished."""
    if stored.state not in PURGEABLE:
        raise OutboxError(f"{stored.id}: {stored.state.value} again, not purged")
    return _blank(stored)


def purge_before(outbox: Outbox, before: datetime, by: str) -> list[str]:
    """Purge sent, failed and rejected messages finished before `before`; return their IDs."""
    by = check_person_name(by)
    purged = []
    note = f"content purged (finished before {before:%Y-%m-%d})"
    for message_id in outbox.finished_before(PURGEABLE, before):
        # `mailer show --html` writes a preview beside the outbox; it goes first, so that a
        # crash in between leaves a message the next purge still finds.
        with contextlib.suppress(FileNotFoundError):
            (outbox.directory / "previews" / f"{message_id}.html").unlink()
        if outbox.load(message_id).purged:
            continue
        try:
            outbox.purge_content(message_id, _still_finished, by, note)
        except OutboxError:  # retried or queued again a moment ago: no longer finished
            continue
        purged.append(message_id)
    outbox.erase_old_versions()  # also what an earlier purge could not finish
    return purged
