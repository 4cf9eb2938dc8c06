"""The plain data a letter template receives, built from a validated record and the settings.

Templates get strings, numbers and lists only (never live objects), so a template edited by staff
cannot reach into the program.
"""

from __future__ import annotations

from typing import Any, Literal

from mailer.config import Settings
from mailer.intake.records import IntakeRecord
from mailer.letters.wording import (
    format_meeting_date,
    format_meeting_moment,
    format_meeting_time,
    join_names,
)

__all__ = ["LetterKind", "calendar_texts", "letter_context"]

LetterKind = Literal["invitation", "update", "cancellation"]

# The calendar entry's own words; the letter's words live in the templates that staff edit.
_CALENDAR_WORDS = {
    "nl": {
        "summary": "Kennismakingsgesprek {child_name} (groep {group})",
        "description": "Kennismakingsgesprek over {child_name} met {professionals_joined}, "
        "groep {group}, {organisation_name}, locatie {location}.",
        "location": "{organisation_name}, locatie {location}",
    },
    "en": {
        "summary": "Introductory meeting {child_name} (group {group})",
        "description": "Introductory meeting about {child_name} with {professionals_joined}, "
        "group {group}, {organisation_name}, {location} location.",
        "location": "{organisation_name}, {location} location",
    },
}


def letter_context(
    record: IntakeRecord,
    settings: Settings,
    kind: LetterKind = "invitation",
    previous: IntakeRecord | None = None,
) -> dict[str, Any]:
    """Everything the templates may use; `previous` is the earlier meeting of a rescheduled one."""
    language = record.language
    # Every parent is greeted, also one without an address (who is not mailed).
    parent_names = record.greeted_names
    sender = settings.sender_address
    reply_to = settings.reply_to_address
    duration = record.duration_minutes or settings.meeting_duration_minutes
    return {
        "language": language,
        "kind": kind,
        "child_name": record.child_name,
        "group": record.group,
        "location": record.location,
        "location_address": settings.location_address(record.location),
        "parent_names": parent_names,
        "parents_joined": join_names(parent_names, language),
        "meeting_date": format_meeting_date(record.meeting_at, language),
        "meeting_time": format_meeting_time(record.meeting_at, language),
        "meeting_when": format_meeting_moment(record.meeting_at, language),
        "meeting_end_time": format_meeting_time(record.meeting_end(duration), language),
        "duration_minutes": duration,
        "previous_meeting_when": (
            format_meeting_moment(previous.meeting_at, language) if previous else ""
        ),
        "professionals": list(record.professionals),
        "professionals_joined": join_names(record.professionals, language),
        "organisation_name": settings.organisation_name,
        "organisation_phone": settings.organisation_phone,
        "organisation_website": settings.organisation_website,
        "sender_name": sender.display_name or settings.organisation_name,
        "sender_email": sender.addr_spec,
        "reply_to_email": reply_to.addr_spec if reply_to else sender.addr_spec,
    }


def calendar_texts(context: dict[str, Any]) -> tuple[str, str, str]:
    """SUMMARY, DESCRIPTION and LOCATION of the calendar entry, in the letter's language."""
    words = _CALENDAR_WORDS[context["language"]]
    summary = words["summary"].format_map(context)
    description = words["description"].format_map(context)
    location = words["location"].format_map(context)
    if context["location_address"]:
        location = f"{location}, {context['location_address']}"
    return summary, description, location
