"""Reading one cell as staff write it: Dutch dates, times and languages, and numbers or dates that
a spreadsheet gives as its own types.

Each reader takes what the file holds (text, or a number, date or time from a spreadsheet cell)
and returns the value, or raises ValueError with a sentence staff can act on.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time
from typing import Any

from mailer.i18n import _

__all__ = [
    "MONTHS",
    "parse_date_as_written",
    "read_date",
    "read_language",
    "read_minutes",
    "read_names",
    "read_text",
    "read_time",
]

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("januari", "jan", "january"),
            ("februari", "feb", "february"),
            ("maart", "mrt", "mar", "march"),
            ("april", "apr"),
            ("mei", "may"),
            ("juni", "jun", "june"),
            ("juli", "jul", "july"),
            ("augustus", "aug", "august"),
            ("september", "sep", "sept"),
            ("oktober", "okt", "oct", "october"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_WEEKDAYS = frozenset(
    {
        *("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
        *("ma", "di", "wo", "do", "vr", "za", "zo"),
        *("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        *("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
    }
)

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})$")
_WORDS = re.compile(r"^(\d{1,2})\.?\s+([a-z]+)\.?\s+(\d{4})$")
_TIME = re.compile(r"^(\d{1,2})(?:\s*[:.u]\s*(\d{2}))?(?::(\d{2}))?\s*(uur|u)?$")
_DATE_HINT = "write it as DD-MM-YYYY, e.g. 12-01-2027"


def read_text(value: Any) -> Any:
    """Text as text; a whole number from a spreadsheet (an ID like 141) without its `.0`."""
    if isinstance(value, bool):
        raise ValueError(_("is not text"))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(_("is not text"))


def _without_weekday(text: str) -> str:
    first, _space, rest = text.partition(" ")
    return rest.strip() if first.rstrip(",.") in _WEEKDAYS and rest else text


def _date_parts(text: str) -> tuple[int, int, int] | None:
    """Year, month and day as written, or None when the text is not written as a date."""
    folded = _without_weekday(" ".join(text.casefold().split()))
    if match := _ISO.match(folded):
        return int(match[1]), int(match[2]), int(match[3])
    if match := _NUMERIC.match(folded):
        year = int(match[3])  # a two-digit year is this century's: 27 is 2027
        return (2000 + year if len(match[3]) == 2 else year), int(match[2]), int(match[1])
    if (match := _WORDS.match(folded)) and match[2] in MONTHS:
        return int(match[3]), MONTHS[match[2]], int(match[1])
    return None


def parse_date_as_written(text: str) -> tuple[date, str] | None:
    """The date in `text` and a strftime pattern that writes a date the same way, or None."""
    parts = _date_parts(text)
    if parts is None:
        return None
    try:
        found = date(*parts)
    except ValueError:
        return None
    stripped = text.strip()
    if _ISO.match(stripped):
        return found, "%Y-%m-%d"
    separator = next((char for char in stripped if char in "-/."), "-")
    return found, f"%d{separator}%m{separator}%Y"


def read_date(value: Any) -> Any:
    """A date from `2027-01-12`, `12-01-2027`, `5-1-27`, `7 januari 2027` or a date cell."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(_("is not a date; {hint}").format(hint=_(_DATE_HINT)))
    text = value.strip()
    if not text:
        raise ValueError(_("is empty; {hint}").format(hint=_(_DATE_HINT)))
    parts = _date_parts(text)
    if parts is None:
        raise ValueError(_("'{text}' is not a date; {hint}").format(text=text, hint=_(_DATE_HINT)))
    year, month, day = parts
    if not 1 <= year <= 9999:
        raise ValueError(_("'{text}' is not a date; {hint}").format(text=text, hint=_(_DATE_HINT)))
    if not 1 <= month <= 12:
        raise ValueError(
            _("'{text}' has no month {month}; months go from 1 to 12").format(
                text=text, month=month
            )
        )
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        raise ValueError(
            _("'{text}' does not exist: month {month} of {year} has {days} days").format(
                text=text, month=month, year=year, days=days
            )
        )
    return date(year, month, day)


def read_time(value: Any) -> Any:
    """A time from `14:30`, `9.05`, `09:30 uur`, `9:30u`, `15u15`, `9 uur` or a time cell."""
    if isinstance(value, datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, float) and 0 <= value < 1:  # a spreadsheet time: a fraction of a day
        minutes = round(value * 24 * 60)
        return time(minutes // 60 % 24, minutes % 60)
    hint = _("write it as HH:MM, e.g. 14:30")
    if not isinstance(value, str):
        raise ValueError(_("is not a time; {hint}").format(hint=hint))
    text = value.strip()
    if not text:
        raise ValueError(_("is empty; {hint}").format(hint=hint))
    match = _TIME.match(text.casefold())
    # A bare number ("9") could be anything; with minutes or "uur" it is a time.
    if not match or not (match[2] or match[4]):
        raise ValueError(_("'{text}' is not a time; {hint}").format(text=text, hint=hint))
    hour, minute = int(match[1]), int(match[2] or 0)
    if hour > 23 or minute > 59:
        raise ValueError(_("'{text}' is not a time of day; {hint}").format(text=text, hint=hint))
    return time(hour, minute)


_LANGUAGES = {
    "nl": "nl",
    "nederlands": "nl",
    "dutch": "nl",
    "ned": "nl",
    "en": "en",
    "engels": "en",
    "english": "en",
    "eng": "en",
}


def read_language(value: Any) -> str:
    """`nl` or `en` from `nl`, `Nederlands`, `Dutch`, `en`, `Engels`, `English`; empty is `nl`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "nl"
    if isinstance(value, str) and value.strip().casefold() in _LANGUAGES:
        return _LANGUAGES[value.strip().casefold()]
    raise ValueError(
        _("'{text}' is not a letter language; write Nederlands or Engels (nl or en)").format(
            text=str(value).strip()[:40]
        )
    )


MIN_MINUTES, MAX_MINUTES = 5, 480


def read_minutes(value: Any) -> int | None:
    """The meeting's length in whole minutes, or None when the cell is empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().casefold().removesuffix("minuten").removesuffix("min").strip()
    try:
        minutes = float(text) if len(text) < 10 else None
    except ValueError:
        minutes = None
    if minutes is None or not minutes.is_integer():
        raise ValueError(
            _("'{text}' is not a number of minutes; write e.g. 45").format(text=str(value)[:40])
        )
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ValueError(
            _("{minutes} minutes is not a meeting length; write {low} to {high}").format(
                minutes=int(minutes), low=MIN_MINUTES, high=MAX_MINUTES
            )
        )
    return int(minutes)


def read_names(value: Any) -> Any:
    """The names in a cell separated by `;` (or a JSON list of names)."""
    if isinstance(value, str):
        names = [name.strip() for name in value.split(";") if name.strip()]
    elif isinstance(value, list):
        names = [read_text(name) for name in value]
    elif value is None:
        names = []
    else:
        names = [read_text(value)]
    if not names:
        raise ValueError(_("is empty; write the names separated by ';'"))
    return names
