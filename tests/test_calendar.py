"""The calendar invitation: parsed back by two independent parsers (icalendar and vobject)."""

from __future__ import annotations

from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import vobject
from icalendar import Calendar

from mailer.clock import AMSTERDAM
from mailer.config import load_settings
from mailer.intake.records import IntakeRecord
from mailer.letters.calendar import calendar_uid
from mailer.letters.compose import Composer
from mailer.letters.rendering import LetterRenderer
from mailer.workspace import Workspace
from tests.conftest import future_date, intake_row


def _composer(workspace: Workspace) -> Composer:
    return Composer(load_settings(workspace.root), LetterRenderer(workspace.templates_dir))


def _record(**overrides: Any) -> IntakeRecord:
    return IntakeRecord.model_validate(intake_row(**overrides))


def _parts(data: bytes) -> tuple[EmailMessage, bytes, bytes, str]:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    inline = attached = b""
    content_type = ""
    for part in parsed.walk():
        if part.get_content_type() == "text/calendar":
            inline = part.get_payload(decode=True)
            content_type = str(part["Content-Type"])
        elif part.get_filename() and part.get_filename().endswith(".ics"):
            attached = part.get_payload(decode=True)
    return parsed, inline, attached, content_type


def test_invitation_is_a_request_with_the_record_time_in_amsterdam(workspace: Workspace) -> None:
    record = _record(meeting_date="2027-07-06", meeting_time="14:30")
    _, inline, attached, content_type = _parts(_composer(workspace).compose(record, "t").data)
    assert inline == attached
    assert "method=REQUEST" in content_type.replace('"', "")
    event = Calendar.from_ical(inline).walk("VEVENT")[0]
    assert Calendar.from_ical(inline)["METHOD"] == "REQUEST"
    start = event.decoded("DTSTART")
    assert start == datetime(2027, 7, 6, 14, 30, tzinfo=AMSTERDAM)
    assert start.utcoffset() == timedelta(hours=2)  # summer time
    assert event.decoded("DTEND") - start == timedelta(minutes=30)
    assert b"DTSTART;TZID=Europe/Amsterdam:20270706T143000" in inline
    assert b"BEGIN:VTIMEZONE" in inline
    assert event["SEQUENCE"] == 0
    assert "Kastanjelaan 12" in str(event["LOCATION"])


def test_second_parser_reads_the_same_winter_meeting(workspace: Workspace) -> None:
    record = _record(meeting_date="2027-01-12", meeting_time="09:30", duration_minutes="45")
    _, inline, _, _ = _parts(_composer(workspace).compose(record, "t").data)
    parsed = vobject.readOne(inline.decode("utf-8"))
    event = parsed.vevent
    assert event.dtstart.value.utcoffset() == timedelta(hours=1)  # winter time
    assert event.dtstart.value.replace(tzinfo=None) == datetime(2027, 1, 12, 9, 30)
    assert event.dtend.value - event.dtstart.value == timedelta(minutes=45)
    assert parsed.method.value == "REQUEST"
    assert "Zoë de Vries" in event.summary.value


def test_attendees_are_exactly_the_message_recipients(workspace: Workspace) -> None:
    record = _record(parent2_name="", parent2_email="")
    parsed, inline, _, _ = _parts(_composer(workspace).compose(record, "t").data)
    event = vobject.readOne(inline.decode("utf-8")).vevent
    attendees = [line.value.lower() for line in event.attendee_list]
    assert attendees == ["mailto:sanne@example.nl"]
    assert [address.addr_spec for address in parsed["To"].addresses] == ["sanne@example.nl"]


def test_replies_to_the_invitation_go_to_the_reply_to_mailbox_sent_by_the_sender(
    workspace: Workspace,
) -> None:
    parsed, inline, _, _ = _parts(_composer(workspace).compose(_record(), "t").data)
    organizer = Calendar.from_ical(inline).walk("VEVENT")[0]["ORGANIZER"]
    assert str(organizer).lower() == "mailto:planning@hetkompas.example"
    assert organizer.params["SENT-BY"].lower() == "mailto:intake@hetkompas.example"
    assert [a.addr_spec for a in parsed["Reply-To"].addresses] == ["planning@hetkompas.example"]
    attendee = vobject.readOne(inline.decode("utf-8")).vevent.attendee
    assert attendee.params["RSVP"] == ["TRUE"]


def test_without_reply_to_the_sender_organizes_and_no_sent_by_is_written(
    workspace: Workspace,
) -> None:
    settings = load_settings(workspace.root, overrides={"reply_to": ""})
    composer = Composer(settings, LetterRenderer(workspace.templates_dir))
    _, inline, _, _ = _parts(composer.compose(_record(), "t").data)
    organizer = Calendar.from_ical(inline).walk("VEVENT")[0]["ORGANIZER"]
    assert str(organizer).lower() == "mailto:intake@hetkompas.example"
    assert "SENT-BY" not in organizer.params


def test_uid_is_stable_per_record_and_differs_between_records(workspace: Workspace) -> None:
    composer = _composer(workspace)
    first = composer.compose(_record(), "t")
    again = composer.compose(_record(meeting_time="10:00"), "t")  # same id, new time
    other = composer.compose(_record(id="PL-2"), "t")
    assert first.draft.calendar_uid == again.draft.calendar_uid
    assert first.draft.calendar_uid != other.draft.calendar_uid
    assert first.draft.calendar_uid == calendar_uid(_record().dedup_key, "hetkompas.example")
    assert str(first.draft.calendar_uid).endswith("@hetkompas.example")


def test_cancellation_is_method_cancel_with_the_same_uid(workspace: Workspace) -> None:
    composer = _composer(workspace)
    invitation = composer.compose(_record(), "t")
    cancellation = composer.compose(_record(), "t", kind="cancellation", sequence=1)
    _, inline, attached, content_type = _parts(cancellation.data)
    calendar = Calendar.from_ical(inline)
    event = calendar.walk("VEVENT")[0]
    assert calendar["METHOD"] == "CANCEL"
    assert "method=CANCEL" in content_type.replace('"', "")
    assert str(event["UID"]) == invitation.draft.calendar_uid
    assert event["SEQUENCE"] == 1
    assert str(event["STATUS"]) == "CANCELLED"
    assert attached == inline


@pytest.mark.parametrize("language", ["nl", "en"])
def test_calendar_lines_are_folded_and_crlf(workspace: Workspace, language: str) -> None:
    record = _record(language=language, meeting_date=future_date(60))
    _, inline, _, _ = _parts(_composer(workspace).compose(record, "t").data)
    lines = inline.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    assert b"\n" not in inline.replace(b"\r\n", b"")


def test_dtstamp_is_utc_and_the_time_zone_covers_the_meeting(workspace: Workspace) -> None:
    record = _record(meeting_date="2027-03-28", meeting_time="14:30")  # the day clocks go forward
    _, inline, _, _ = _parts(_composer(workspace).compose(record, "t").data)
    calendar = Calendar.from_ical(inline)
    event = calendar.walk("VEVENT")[0]
    assert event.decoded("DTSTAMP").utcoffset() == timedelta(0)
    assert b"\r\nDTSTAMP:" in inline and inline.split(b"\r\nDTSTAMP:")[1][15:16] == b"Z"
    assert event.decoded("DTSTART").utcoffset() == timedelta(hours=2)
    [timezone] = calendar.walk("VTIMEZONE")
    assert timezone["TZID"] == "Europe/Amsterdam"
    assert len(inline) < 4000  # one year's transitions, not 1970-2037
