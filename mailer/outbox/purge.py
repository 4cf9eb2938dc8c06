"""Removing the content of old sent, failed and rejected messages (AVG: keep children's data no
longer than needed), keeping the fact that they existed and a journal line without personal data.
Every copy goes: the message's bytes and metadata in the outbox, and its HTML preview. A message
whose meeting is still to come keeps its content: a cancellation or an update needs it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailer.clock import now_in_amsterdam
from mailer.errors import OutboxError
from mailer.i18n import _, state_name
from mailer.outbox.store import Outbox, State, StoredMessage
from mailer.review.decisions import check_person_name

__all__ = ["PURGEABLE", "PurgePlan", "plan_purge", "purge_before", "purge_planned"]

# A failed message stays failed until a person retries or rejects it; if nobody does, its
# content must still go in time.
PURGEABLE = frozenset({State.SENT, State.REJECTED, State.FAILED})


@dataclass
class PurgePlan:
    """What a purge of messages finished before `before` will do, decided at `now`."""

    before: datetime
    now: datetime
    due: list[str] = field(default_factory=list)
    # Finished before the date, but their meeting is still to come: `mailer cancel` and an
    # updated invitation need their content until then.
    meeting_ahead: list[str] = field(default_factory=list)


def plan_purge(outbox: Outbox, before: datetime, now: datetime | None = None) -> PurgePlan:
    """The messages a purge would empty (nothing is changed): finished before `before`, not
    yet purged, and with their meeting in the past."""
    plan = PurgePlan(before, now or now_in_amsterdam())
    for message_id in outbox.finished_before(PURGEABLE, before):
        stored = outbox.load(message_id, with_history=False)
        if stored.purged:
            continue
        if stored.meeting_at > plan.now:
            plan.meeting_ahead.append(message_id)
        else:
            plan.due.append(message_id)
    return plan


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


def _still_due(now: datetime) -> Callable[[StoredMessage], dict[str, Any]]:
    """`_blank`, checked inside the purge's transaction: the message is still finished and its
    meeting still past."""

    def change(stored: StoredMessage) -> dict[str, Any]:
        if stored.state not in PURGEABLE:
            raise OutboxError(
                _("{id}: {state} again, not purged").format(
                    id=stored.id, state=state_name(stored.state.value)
                )
            )
        if stored.meeting_at > now:
            raise OutboxError(
                _("{id}: its meeting is still to come, not purged").format(id=stored.id)
            )
        return _blank(stored)

    return change


def purge_planned(outbox: Outbox, plan: PurgePlan, by: str) -> list[str]:
    """Purge the messages `plan` found due (each checked again as it goes); return their IDs."""
    by = check_person_name(by)
    purged = []
    note = f"content purged (finished before {plan.before:%Y-%m-%d})"
    due, kept = set(plan.due), set(plan.meeting_ahead)
    for message_id in outbox.finished_before(PURGEABLE, plan.before):
        # `mailer show --html` writes a preview beside the outbox; it goes first, so that a
        # crash in between leaves a message the next purge still finds. A message whose
        # meeting is to come keeps it.
        if message_id in kept:
            continue
        with contextlib.suppress(FileNotFoundError):
            (outbox.directory / "previews" / f"{message_id}.html").unlink()
        if message_id not in due:
            continue
        try:
            outbox.purge_content(message_id, _still_due(plan.now), by, note)
        except OutboxError:  # retried, queued again or moved a moment ago
            continue
        purged.append(message_id)
    outbox.erase_old_versions()  # also what an earlier purge could not finish
    return purged


def purge_before(outbox: Outbox, before: datetime, by: str) -> list[str]:
    """Purge sent, failed and rejected messages finished before `before` whose meeting has
    passed; return their IDs."""
    return purge_planned(outbox, plan_purge(outbox, before), by)
