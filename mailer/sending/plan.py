"""Planning a send run: which approved messages may go now and why others may not, with the
report of what a run did; messages left `sending` by a dead sender are recovered here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mailer.clock import now_in_amsterdam
from mailer.i18n import _, ngettext
from mailer.outbox.store import Outbox, State
from mailer.sending.delivery import Outcome
from mailer.sending.records import (
    CHANGED_AFTER_APPROVAL,
    MESSAGE_FILE_MISSING,
    NO_LONGER_APPROVED,
    TAKEN_BY_ANOTHER_SENDER,
    WAITING_TO_RETRY,
    sendable_problem,
)
from mailer.sending.recovery import Recovery, recover_stale_claim

__all__ = [
    "NOT_SENT",
    "ProgressCallback",
    "SendEvent",
    "SendReport",
    "plan_send",
    "skip_reason_in_words",
]

NOT_SENT = "not sent because the run stopped"


@dataclass(frozen=True)
class SendEvent:
    """One message done; `detail` is one line for the person running the send."""

    message_id: str
    outcome: str
    detail: str


ProgressCallback = Callable[[SendEvent], None]


# Reasons to skip a message that need nobody's attention: `send` still exits 0.
NOT_APPROVED_YET = "not approved yet"
BEYOND_LIMIT = "beyond --limit"
UNKNOWN_DELIVERY = "delivery unknown: decide with `mailer resolve`"
ROUTINE_SKIPS = frozenset(
    {
        NOT_APPROVED_YET,
        BEYOND_LIMIT,
        NO_LONGER_APPROVED,
        WAITING_TO_RETRY,
        TAKEN_BY_ANOTHER_SENDER,
    }
)


@dataclass
class SendReport:
    """What a run did (or, for a dry run, would do)."""

    planned: list[str] = field(default_factory=list)
    outcomes: dict[str, list[str]] = field(default_factory=dict)  # outcome -> IDs
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    recovery: Recovery = field(default_factory=Recovery)  # what dead senders left `sending`
    partial: dict[str, list[str]] = field(default_factory=dict)  # ID -> refused addresses
    stopped: str | None = None  # why the run ended early
    resume_at: datetime | None = None  # when a run stopped by the provider may go on
    throttled: int = 0  # how often the server asked to slow down

    @property
    def recovered(self) -> list[str]:
        """Messages a dead sender left `sending` that are now `unknown`."""
        return self.recovery.unknown

    def ids(self, outcome: str) -> list[str]:
        """The IDs with this outcome (`Outcome.SENT` or plain "sent")."""
        return self.outcomes.get(str(outcome), [])

    def add(self, message_id: str, outcome: str) -> None:
        self.outcomes.setdefault(outcome, []).append(message_id)

    @property
    def all_well(self) -> bool:
        troubles = (Outcome.FAILED, Outcome.UNKNOWN, Outcome.DEFERRED)
        if self.stopped or self.recovered or self.partial:
            return False
        # A message held back for a reason a person must look at (changed after approval,
        # recipients that differ from the approved letter, an unknown delivery) is not "well".
        if any(reason not in ROUTINE_SKIPS for reason in self.skipped):
            return False
        return not any(self.ids(outcome) for outcome in troubles)

    def summary(self) -> str:
        """One line: every count, then why messages were skipped (in the chosen language)."""
        words = {
            Outcome.SENT: _("{count} sent"),
            Outcome.DEFERRED: _("{count} deferred"),
            Outcome.FAILED: _("{count} failed"),
            Outcome.UNKNOWN: _("{count} unknown"),
        }
        counts = ", ".join(
            word.format(count=len(self.ids(outcome))) for outcome, word in words.items()
        )
        skipped = sum(self.skipped.values())
        text = _("{counts}, {skipped} skipped").format(counts=counts, skipped=skipped)
        if skipped:
            reasons = "; ".join(
                f"{n} {skip_reason_in_words(reason)}" for reason, n in sorted(self.skipped.items())
            )
            text += f" ({reasons})"
        if self.partial:
            text += "; " + ngettext(
                "{count} sent message did not reach every recipient",
                "{count} sent messages did not reach every recipient",
                len(self.partial),
            ).format(count=len(self.partial))
        return text + "."


def skip_reason_in_words(reason: str) -> str:
    """A reason for skipping a message in the chosen language; the report keeps the English
    constants, which `all_well` compares, and a server's own words stay as they are."""
    words = {
        NOT_SENT: _("not sent because the run stopped"),
        NOT_APPROVED_YET: _("not approved yet"),
        BEYOND_LIMIT: _("beyond --limit"),
        NO_LONGER_APPROVED: _("no longer approved"),
        WAITING_TO_RETRY: _("waiting to retry after a temporary refusal"),
        TAKEN_BY_ANOTHER_SENDER: _("taken by another sender"),
        UNKNOWN_DELIVERY: _("delivery unknown: decide with `mailer resolve`"),
        MESSAGE_FILE_MISSING: _("message file missing"),
        CHANGED_AFTER_APPROVAL: _("changed after approval (approve again)"),
    }
    return words.get(reason, reason)


def plan_send(
    outbox: Outbox,
    *,
    limit: int | None = None,
    now: datetime | None = None,
    recover_as: str | None = None,
    read_letters: bool = True,
) -> SendReport:
    """Which approved messages may be sent now (in queueing order), and why others may not.

    With `recover_as`, messages left in `sending` by a process that is gone are recovered in
    the same pass (see `recovery`); a dry run leaves them alone.

    Without `read_letters` the letters are not read and hashed: for a run that shows nobody
    the plan first (`send --yes`), since every claim checks its letter's bytes anyway.
    """
    now = now or now_in_amsterdam()
    report = SendReport()
    # Only IDs are kept (the outbox gives messages in queueing order), so memory stays flat.
    sendable: list[str] = []
    for stored in outbox.messages():
        if recover_as is not None:
            stored = recover_stale_claim(outbox, stored, recover_as, report.recovery)
        if stored.state == State.PENDING:
            report.skipped[NOT_APPROVED_YET] += 1
        elif stored.state == State.UNKNOWN:
            report.skipped[UNKNOWN_DELIVERY] += 1
        if stored.state != State.APPROVED:
            continue
        problem = sendable_problem(outbox, stored, now, check_bytes=read_letters)
        if problem:
            report.skipped[problem] += 1
        else:
            sendable.append(stored.id)
    if limit is not None and len(sendable) > limit:
        report.skipped[BEYOND_LIMIT] += len(sendable) - limit
        del sendable[limit:]
    report.planned = sendable
    return report
