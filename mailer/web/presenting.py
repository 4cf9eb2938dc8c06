"""What the review page shows, as plain data: the overview by state and one message's parts.

The letter is read from the stored bytes with the stdlib `email` package, exactly as it will be
sent; the meeting comes from the calendar part when the message carries one (icalendar).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import icalendar

from mailer.clock import AMSTERDAM
from mailer.letters.wording import format_meeting_moment
from mailer.outbox.store import Outbox, State, StoredMessage, sha256_hex
from mailer.review.decisions import ReviewPolicy
from mailer.review.summary import message_problems
from mailer.web.texts import DECIDED, STATE_HINTS, STATE_NAMES, STATE_ORDER, problem_in_dutch

__all__ = [
    "SELECTABLE",
    "MessageRow",
    "StateGroup",
    "meeting_from_calendar",
    "overview",
    "when",
]

DECIDABLE = frozenset({State.PENDING, State.APPROVED})
# Only pending letters are offered for approving several at once; an approved letter that changed
# afterwards is approved again from its own page, after reading it.
SELECTABLE = frozenset({State.PENDING})


def when(moment: datetime) -> str:
    """`dinsdag 12 januari 2027 om 09:30`, in Amsterdam time."""
    return format_meeting_moment(moment, "nl")


def moment_short(moment: datetime) -> str:
    return f"{moment.astimezone(AMSTERDAM):%d-%m-%Y %H:%M}"


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


@dataclass
class StateGroup:
    state: State
    name: str
    hint: str
    rows: list[MessageRow] = field(default_factory=list)


def dutch_problems(outbox: Outbox, stored: StoredMessage, review: ReviewPolicy) -> list[str]:
    return [
        problem_in_dutch(problem, stored.last_error)
        for problem in message_problems(outbox, stored, review)
    ]


def _row(outbox: Outbox, stored: StoredMessage, review: ReviewPolicy) -> MessageRow:
    return MessageRow(
        id=stored.id,
        state=stored.state,
        child_name=stored.child_name,
        meeting=when(stored.meeting_at),
        to=list(stored.to),
        problems=dutch_problems(outbox, stored, review),
        sha256=sha256_hex(outbox.read_bytes(stored.id)),
        decided=decided_in_words(stored),
    )


def decided_in_words(stored: StoredMessage) -> str:
    if stored.rejection is not None:
        return DECIDED["rejected"].format(by=stored.rejection.by, reason=stored.rejection.reason)
    if stored.approval is not None:
        return DECIDED["approved"].format(by=stored.approval.by)
    return ""


def overview(outbox: Outbox, review: ReviewPolicy) -> list[StateGroup]:
    """Every message grouped by state (the states that need a person first), soonest meeting
    first within a state; states without messages are left out."""
    groups = {state: StateGroup(state, STATE_NAMES[state], STATE_HINTS[state]) for state in State}
    messages: Iterable[StoredMessage] = sorted(
        outbox.messages(), key=lambda stored: (stored.meeting_at, stored.id)
    )
    for stored in messages:
        groups[stored.state].rows.append(_row(outbox, stored, review))
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
