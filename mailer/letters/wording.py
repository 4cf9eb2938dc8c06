"""Dates, times and lists of names written the way people write them, in Dutch or English.

Babel knows each language's month and day names and its word for "and"; the meeting time is always
shown in Europe/Amsterdam, whatever the zone of the computer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from babel.dates import format_date, format_time
from babel.lists import format_list

from mailer.clock import AMSTERDAM

__all__ = ["format_meeting_date", "format_meeting_moment", "format_meeting_time", "join_names"]

_AT = {"nl": "om", "en": "at"}
_DATE_PATTERN = {"nl": "EEEE d MMMM y", "en": "EEEE d MMMM y"}


def format_meeting_date(moment: datetime, language: str) -> str:
    """`dinsdag 15 december 2026` / `Tuesday 15 December 2026`."""
    local = moment.astimezone(AMSTERDAM)
    return format_date(local.date(), _DATE_PATTERN[language], locale=language)


# A 24-hour clock in both languages; Dutch writes `9.30 uur`, English `09:30`.
_TIME_PATTERN = {"nl": "H.mm", "en": "HH:mm"}


def format_meeting_time(moment: datetime, language: str) -> str:
    """`9.30` / `14.30` in Dutch (the letter adds "uur"), `09:30` / `14:30` in English."""
    return format_time(
        moment.astimezone(AMSTERDAM).time(), _TIME_PATTERN[language], locale=language
    )


def format_meeting_moment(moment: datetime, language: str) -> str:
    """`dinsdag 15 december 2026 om 14.30` / `Tuesday 15 December 2026 at 14:30`."""
    when = format_meeting_date(moment, language)
    return f"{when} {_AT[language]} {format_meeting_time(moment, language)}"


def join_names(names: Sequence[str], language: str) -> str:
    """`Sanne en Mark`, `Anna, Fatima en Joost` / `Anna, Fatima and Joost` (no serial comma)."""
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    # Babel's English "standard" list puts a comma before "and"; letters here do not.
    if language == "en":
        return f"{', '.join(names[:-1])} and {names[-1]}"
    return format_list(list(names), style="standard", locale=language)
