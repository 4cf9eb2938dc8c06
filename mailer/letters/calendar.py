"""The calendar invitation that travels with a letter (iCalendar RFC 5545, iMIP RFC 6047).

One meeting keeps one UID for its whole life, derived from the record and the sender's domain; an
update raises SEQUENCE and a cancellation is `METHOD:CANCEL` with the same UID. The ATTENDEEs are
exactly the message's own recipients, so parents never see another family's address.

The ORGANIZER is the mailbox that reads the parents' replies (`reply_to`, else the sender), so a
parent's "accept" or "decline" (RSVP) reaches a person; when that is not the sending mailbox,
`SENT-BY` names the sender, as RFC 5545 (3.2.18) provides for mail sent on someone's behalf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.headerregistry import Address
from typing import Literal

from icalendar import Calendar, Event, vCalAddress, vText

from mailer.clock import AMSTERDAM

__all__ = ["CalendarMethod", "Meeting", "calendar_method", "calendar_uid", "invitation_ics"]

CalendarMethod = Literal["REQUEST", "CANCEL"]
PRODUCT_ID = "-//intake-mailer//kennismakingsgesprek//NL"


@dataclass(frozen=True)
class Meeting:
    """What the calendar entry says: when, where, what, between whom."""

    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    location: str
    description: str
    organizer: Address
    attendees: Sequence[Address]
    stamp: datetime
    sent_by: Address | None = None


def calendar_uid(record_key: str, sender_domain: str) -> str:
    """A UID that stays the same for one record (its key) at one sender."""
    digest = hashlib.sha256(f"{record_key}\x00{sender_domain}".encode()).hexdigest()
    return f"intake-{digest[:32]}@{sender_domain}"


def calendar_method(kind: str) -> CalendarMethod:
    """CANCEL for a cancellation letter, REQUEST for an invitation or an update."""
    return "CANCEL" if kind == "cancellation" else "REQUEST"


def _person(address: Address, role: str | None) -> vCalAddress:
    person = vCalAddress(f"mailto:{address.addr_spec}")
    if address.display_name:
        person.params["CN"] = vText(address.display_name)
    if role is not None:
        person.params["ROLE"] = vText(role)
        person.params["PARTSTAT"] = vText("NEEDS-ACTION")
        person.params["RSVP"] = vText("TRUE")
    return person


def invitation_ics(meeting: Meeting, method: CalendarMethod) -> bytes:
    """The iCalendar object as bytes (CRLF lines folded at 75 octets by the icalendar package)."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", meeting.sequence)
    # RFC 5545 section 3.8.7.2: DTSTAMP is always in UTC.
    event.add("dtstamp", meeting.stamp.astimezone(UTC).replace(microsecond=0))
    # Times carry TZID=Europe/Amsterdam, so the meeting stays at 14:30 across daylight saving.
    event.add("dtstart", meeting.start.astimezone(AMSTERDAM))
    event.add("dtend", meeting.end.astimezone(AMSTERDAM))
    event.add("summary", meeting.summary)
    if meeting.location:
        event.add("location", meeting.location)
    if meeting.description:
        event.add("description", meeting.description)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organizer = _person(meeting.organizer, None)
    if meeting.sent_by is not None and meeting.sent_by.addr_spec != meeting.organizer.addr_spec:
        organizer.params["SENT-BY"] = vText(f"mailto:{meeting.sent_by.addr_spec}")
    event.add("organizer", organizer)
    for attendee in meeting.attendees:
        event.add("attendee", _person(attendee, "REQ-PARTICIPANT"))
    calendar.add_component(event)
    # The VTIMEZONE only needs to cover this meeting; icalendar's default span (1970-2037) makes
    # every invitation several kilobytes longer and costs most of the time of building it.
    first = meeting.start.date().replace(month=1, day=1) - timedelta(days=1)
    calendar.add_missing_timezones(first_date=first, last_date=date(meeting.end.year + 1, 12, 31))
    ics: bytes = calendar.to_ical()
    return ics
