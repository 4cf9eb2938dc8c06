"""What the review page shows, as plain data: the overview by state, one message's parts, and
which decisions the reviewer may take now (and why not, when one is not offered).

The letter is read from the stored bytes with the stdlib `email` package, exactly as it will be
sent; the meeting comes from the calendar part when the message carries one (icalendar). What
may be approved is asked of `mailer.review.decisions`, so the page offers only what `approve`
would accept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import icalendar

from mailer.clock import AMSTERDAM
from mailer.errors import ApprovalRefused
from mailer.i18n import _, current_language
from mailer.letters.wording import format_meeting_moment
from mailer.outbox.models import HistoryEntry
from mailer.outbox.store import Outbox, State, StoredMessage, sha256_hex
from mailer.review.decisions import ReviewPolicy, approval_refusal
from mailer.review.summary import problems_of
from mailer.web.texts import (
    STATE_ORDER,
    decided_in_words,
    problem_in_words,
    state_hint,
    state_name,
)

__all__ = [
    "Choices",
    "MessageRow",
    "StateGroup",
    "choices_for",
    "meeting_from_calendar",
    "moment_short",
    "overview",
    "problems_in_words",
    "when",
]


def when(moment: datetime) -> str:
    """The moment as the letters write it (`dinsdag 12 januari 2027 om ...`), in Amsterdam
    time and the page's language."""
    return format_meeting_moment(moment, current_language())


def moment_short(moment: datetime) -> str:
    return f"{moment.astimezone(AMSTERDAM):%d-%m-%Y %H:%M}"


@dataclass(frozen=True)
class Choices:
    """The decisions offered on a message's page, and why the others are not."""

    approve: bool
    reject: bool
    why_not: list[str]


def _refusal_in_words(refusal: ApprovalRefused, stored: StoredMessage) -> str:
    if refusal.rule == "already_approved" and stored.approval is not None:
        return _(
            "Approving is not needed: {by} already approved this version on {at}. It goes out "
            "with the next sending."
        ).format(by=stored.approval.by, at=moment_short(stored.approval.at))
    if refusal.rule == "unsigned_template":
        return _(
            "Approving is not possible yet: template version {version} has not been signed off "
            "by the team. Ask whoever manages the templates to sign it off (command "
            "“mailer template approve”)."
        ).format(version=stored.template_version)
    if refusal.rule == "four_eyes":
        return _(
            "Approving is not for you: you made or changed this version yourself, and the "
            "four-eyes rule applies. A colleague must approve it."
        )
    return _("Approving is not possible now; reload the page.")


def _closed_in_words(state: State) -> str:
    texts = {
        State.FAILED: _(
            "Approving is not possible: sending this letter failed. Send it again with the "
            "command “mailer retry” (it keeps its approval while the letter is unchanged), or "
            "reject it."
        ),
        State.SENDING: _("There is nothing to decide: this letter is being sent right now."),
        State.SENT: _("There is nothing left to decide: this letter has been sent."),
        State.REJECTED: _(
            "There is nothing left to decide: this letter was rejected and will not be sent."
        ),
        State.UNKNOWN: _(
            "There is nothing to decide here: it is not known whether this letter arrived. "
            "Decide with the command “mailer resolve”."
        ),
    }
    return texts.get(state, _("There is nothing to decide about this letter now."))


def choices_for(
    stored: StoredMessage, current_sha256: str, reviewer: str, review: ReviewPolicy
) -> Choices:
    """What `reviewer` may decide about these bytes now, by the rules the core applies."""
    if stored.state in {State.PENDING, State.APPROVED}:
        refusal = approval_refusal(stored, stored.history, current_sha256, reviewer, review)
        if refusal is None:
            return Choices(approve=True, reject=True, why_not=[])
        return Choices(approve=False, reject=True, why_not=[_refusal_in_words(refusal, stored)])
    # A failed letter may still be rejected; every other state is out of the reviewer's hands.
    return Choices(
        approve=False, reject=stored.state == State.FAILED, why_not=[_closed_in_words(stored.state)]
    )


@dataclass(frozen=True)
class MessageRow:
    """One line of the overview."""

    id: str
    state: State
    child_name: str
    meeting: str
    to: list[str]
    problems: list[str]
    sha256: str  # of the bytes as the overview was made: a bulk approval carries it
    decided: str  # who approved or rejected it, and why, in a few words
    selectable: bool  # offered for approving together with others


@dataclass
class StateGroup:
    state: State
    name: str
    hint: str
    rows: list[MessageRow] = field(default_factory=list)

    @property
    def selectable(self) -> bool:
        return any(row.selectable for row in self.rows)


def problems_in_words(stored: StoredMessage, review: ReviewPolicy) -> list[str]:
    return [problem_in_words(problem) for problem in problems_of(stored, review)]


def _row(
    outbox: Outbox,
    stored: StoredMessage,
    history: Sequence[HistoryEntry],
    reviewer: str,
    review: ReviewPolicy,
) -> MessageRow:
    sha256 = sha256_hex(outbox.read_bytes(stored.id))
    problems = problems_in_words(stored, review)
    selectable = False
    # Only pending letters are offered for approving several at once; an approved letter that
    # changed afterwards is approved again from its own page, after reading it.
    if stored.state == State.PENDING:
        refusal = approval_refusal(stored, history, sha256, reviewer, review)
        selectable = refusal is None
        if refusal is not None and refusal.rule == "four_eyes":
            problems.append(_refusal_in_words(refusal, stored))
    return MessageRow(
        id=stored.id,
        state=stored.state,
        child_name=stored.child_name,
        meeting=when(stored.meeting_at),
        to=list(stored.to),
        problems=problems,
        sha256=sha256,
        decided=decided_in_words(
            approved_by=stored.approval.by if stored.approval else None,
            rejected_by=stored.rejection.by if stored.rejection else None,
            reason=stored.rejection.reason if stored.rejection else "",
        ),
        selectable=selectable,
    )


def overview(outbox: Outbox, reviewer: str, review: ReviewPolicy) -> list[StateGroup]:
    """Every message grouped by state (the states that need a person first), soonest meeting
    first within a state; states without messages are left out."""
    groups = {state: StateGroup(state, state_name(state), state_hint(state)) for state in State}
    messages: list[StoredMessage] = sorted(
        outbox.messages(), key=lambda stored: (stored.meeting_at, stored.id)
    )
    # Four eyes asks who made each version, so the rules read the pending letters' journal.
    histories = outbox.histories([m.id for m in messages if m.state == State.PENDING])
    for stored in messages:
        history = histories.get(stored.id, [])
        groups[stored.state].rows.append(_row(outbox, stored, history, reviewer, review))
    ordered = [groups[state] for state in STATE_ORDER] + [
        group for state, group in groups.items() if state not in STATE_ORDER
    ]
    return [group for group in ordered if group.rows]


def _calendar_time(value: Any) -> str:
    moment = getattr(value, "dt", value)
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            return f"{moment:%d-%m-%Y %H:%M}"
        return when(moment)
    if isinstance(moment, date):
        return f"{moment:%d-%m-%Y}"
    return str(moment)


def _person(value: Any) -> str:
    name = str(value.params.get("CN", "")) if hasattr(value, "params") else ""
    address = str(value).removeprefix("mailto:").removeprefix("MAILTO:")
    return f"{name} <{address}>" if name else address


def _attendees(event: icalendar.cal.Component) -> list[str]:
    found = event.get("ATTENDEE")
    if found is None:
        return []
    return [_person(one) for one in (found if isinstance(found, list) else [found])]


def meeting_from_calendar(ics: bytes) -> dict[str, Any] | None:
    """The meeting of a calendar invitation (first VEVENT), in words; None when it has none."""
    calendar = icalendar.Calendar.from_ical(ics)
    for event in calendar.walk("VEVENT"):
        return {
            "method": str(calendar.get("METHOD", "")),
            "summary": str(event.get("SUMMARY", "")),
            "start": _calendar_time(event.get("DTSTART")) if event.get("DTSTART") else "",
            "end": _calendar_time(event.get("DTEND")) if event.get("DTEND") else "",
            "location": str(event.get("LOCATION", "")),
            "organizer": _person(event["ORGANIZER"]) if event.get("ORGANIZER") else "",
            "attendees": _attendees(event),
        }
    return None
