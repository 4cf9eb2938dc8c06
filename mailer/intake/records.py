"""The intake record: one child's invitation to the intake meeting, validated.

A record is built from one row of an intake file (see `intake_files`). Validation needs "now" to
know whether the meeting lies in the future; it is passed in the validation context so that tests
and the demo can fix it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mailer.clock import AMSTERDAM, now_in_amsterdam
from mailer.text_safety import check_header_safe

__all__ = [
    "DATE_FORMATS",
    "IntakeRecord",
    "Parent",
    "parse_date_as_written",
]

MAX_NAME_LENGTH = 120
# An intake meeting is planned weeks ahead, not years: a later date is a typo in the year.
MAX_AHEAD = timedelta(days=2 * 365)


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _clean_text(value: str) -> str:
    value = check_header_safe(value.strip())
    if not value:
        raise ValueError("is empty")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"is longer than {MAX_NAME_LENGTH} characters")
    return value


# ISO first, then the ways Dutch spreadsheets write a date.
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y")


def parse_date_as_written(text: str) -> tuple[date, str] | None:
    """The date in `text` and the format it was written in, or None when it is not a date."""
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern).date(), pattern
        except ValueError:
            continue
    return None


def _parse_date(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        raise ValueError("is empty; write the date as YYYY-MM-DD or DD-MM-YYYY")
    parsed = parse_date_as_written(text)
    if parsed:
        return parsed[0]
    raise ValueError(f"{text!r} is not a date; write it as YYYY-MM-DD or DD-MM-YYYY")


_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})(?::\d{2})?$")


def _parse_time(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if not value.strip():
        raise ValueError("is empty; write the time as HH:MM, e.g. 14:30")
    match = _TIME.match(value.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{value.strip()!r} is not a time; write it as HH:MM, e.g. 14:30")
    return time(int(match[1]), int(match[2]))


def _split_names(value: Any) -> Any:
    if isinstance(value, str):
        return [name.strip() for name in value.split(";") if name.strip()]
    return value


def _lower_language(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "nl"
    return value.strip().lower() if isinstance(value, str) else value


Name = Annotated[str, AfterValidator(_clean_text)]
OptionalName = Annotated[Name | None, BeforeValidator(_blank_to_none)]
Minutes = Annotated[int, Field(ge=5, le=480)]
OptionalEmail = Annotated[EmailStr | None, BeforeValidator(_blank_to_none)]


class Parent(BaseModel):
    """A parent who receives the invitation."""

    model_config = ConfigDict(frozen=True)
    name: str
    email: str


class IntakeRecord(BaseModel):
    """One validated row: the child, the meeting, the parents and the professionals.

    Validation context: `now` (default: the current time in Amsterdam) decides whether the meeting
    lies in the future; `stored=True` reads back a record that was validated when it was queued.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: OptionalName = None
    child_name: Name
    group: Name
    location: Name
    meeting_date: Annotated[date, BeforeValidator(_parse_date)]
    meeting_time: Annotated[time, BeforeValidator(_parse_time)]
    parent1_name: OptionalName = None
    parent1_email: OptionalEmail = None
    parent2_name: OptionalName = None
    parent2_email: OptionalEmail = None
    professionals: Annotated[list[Name], BeforeValidator(_split_names)] = Field(min_length=1)
    language: Annotated[Literal["nl", "en"], BeforeValidator(_lower_language)] = "nl"
    duration_minutes: Annotated[Minutes | None, BeforeValidator(_blank_to_none)] = None

    @field_validator("parent1_email", "parent2_email")
    @classmethod
    def _email_is_header_safe(cls, value: str | None) -> str | None:
        return check_header_safe(value) if value else value

    @model_validator(mode="after")
    def _parents_are_complete(self) -> IntakeRecord:
        for number in (1, 2):
            name = getattr(self, f"parent{number}_name")
            email = getattr(self, f"parent{number}_email")
            if name and not email:
                raise ValueError(f"parent{number}_email: parent {number} has a name but no e-mail")
            if email and not name:
                raise ValueError(f"parent{number}_name: parent {number} has an e-mail but no name")
        if not (self.parent1_email or self.parent2_email):
            raise ValueError("parent1_email: at least one parent with an e-mail address is needed")
        if (
            self.parent1_email
            and self.parent2_email
            and self.parent1_email.casefold() == self.parent2_email.casefold()
        ):
            raise ValueError("parent2_email: is the same address as parent1_email")
        return self

    @model_validator(mode="after")
    def _meeting_is_in_the_future(self, info: ValidationInfo) -> IntakeRecord:
        context = info.context or {}
        start = self.meeting_at
        if context.get("stored"):
            # Read back from the outbox: these rules held when it was queued, and its meeting
            # may have passed since.
            return self
        now: datetime = context.get("now") or now_in_amsterdam()
        if start.astimezone(UTC).astimezone(AMSTERDAM).time() != self.meeting_time:
            raise ValueError(
                f"meeting_time: {self.meeting_time:%H:%M} does not exist on "
                f"{self.meeting_date:%d-%m-%Y} (the clocks go forward that night); choose "
                "another time"
            )
        if start.replace(fold=1).utcoffset() != start.utcoffset():
            raise ValueError(
                f"meeting_time: {self.meeting_time:%H:%M} happens twice on "
                f"{self.meeting_date:%d-%m-%Y} (the clocks go back that night); choose "
                "another time"
            )
        if start <= now:
            raise ValueError(
                f"meeting_date: the meeting ({start:%d-%m-%Y %H:%M}) is not in the future"
            )
        if start > now + MAX_AHEAD:
            raise ValueError(
                f"meeting_date: the meeting ({start:%d-%m-%Y}) is more than two years ahead; "
                "check the year"
            )
        return self

    @property
    def parents(self) -> list[Parent]:
        found = []
        for name, email in (
            (self.parent1_name, self.parent1_email),
            (self.parent2_name, self.parent2_email),
        ):
            if name and email:
                found.append(Parent(name=name, email=email))
        return found

    @property
    def meeting_at(self) -> datetime:
        """The start of the meeting, aware, in Europe/Amsterdam."""
        return datetime.combine(self.meeting_date, self.meeting_time, tzinfo=AMSTERDAM)

    def meeting_end(self, default_minutes: int) -> datetime:
        return self.meeting_at + timedelta(minutes=self.duration_minutes or default_minutes)

    @property
    def dedup_key(self) -> str:
        """What makes two rows the same invitation: the planning system's `id` when given,
        else the child, the meeting time and the parents' addresses."""
        if self.id:
            basis = f"id\x00{self.id}"
        else:
            addresses = sorted(parent.email.lower() for parent in self.parents)
            basis = "\x00".join(
                ["natural", self.child_name.casefold(), self.meeting_at.isoformat(), *addresses]
            )
        return hashlib.sha256(basis.encode("utf-8")).hexdigest()

    @property
    def content_fingerprint(self) -> str:
        """Changes whenever anything in the record changes (used to spot reschedules)."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()
