"""The intake record: one child's invitation to the intake meeting, validated.

A record is built from one row of an intake file (see `intake_files`). Validation needs "now" to
know whether the meeting lies in the future; it is passed in the validation context so that tests
and the demo can fix it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    model_validator,
)

from mailer.clock import AMSTERDAM, now_in_amsterdam
from mailer.i18n import _
from mailer.intake.addresses import read_address
from mailer.intake.cells import (
    parse_date_as_written,
    read_date,
    read_language,
    read_minutes,
    read_names,
    read_text,
    read_time,
)
from mailer.text_safety import check_header_safe

__all__ = [
    "IntakeRecord",
    "Parent",
    "parse_date_as_written",
]

MAX_NAME_LENGTH = 120
MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit for a path
# An intake meeting is planned weeks ahead, not years: a later date is a typo in the year.
MAX_AHEAD = timedelta(days=2 * 365)


def _blank_to_none(value: Any) -> Any:
    value = read_text(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _clean_text(value: str, limit: int = MAX_NAME_LENGTH) -> str:
    value = value.strip()
    try:
        check_header_safe(value)
    except ValueError:
        if "=?" in value:
            raise ValueError(
                _("contains '=?', which mail programs read as encoded text; remove it")
            ) from None
        raise ValueError(_("contains a line break or another control character")) from None
    if not value:
        raise ValueError(_("is empty"))
    if len(value) > limit:
        raise ValueError(_("is longer than {limit} characters").format(limit=limit))
    return value


def _read_email(value: Any) -> Any:
    value = _blank_to_none(value)
    return None if value is None else read_address(_clean_text(value, MAX_ADDRESS_LENGTH))


Name = Annotated[str, BeforeValidator(read_text), AfterValidator(_clean_text)]
OptionalName = Annotated[Name | None, BeforeValidator(_blank_to_none)]
OptionalEmail = Annotated[str | None, BeforeValidator(_read_email)]


class Parent(BaseModel):
    """A parent who receives the invitation."""

    model_config = ConfigDict(frozen=True)
    name: str
    email: str


class IntakeRecord(BaseModel):
    """One validated row: the child, the meeting, the parents and the professionals.

    A parent with a name and no address is greeted in the letter but not mailed; at least one
    parent needs an address. Addresses are kept in their ASCII form (see `addresses`).

    Validation context: `now` (default: the current time in Amsterdam) decides whether the meeting
    lies in the future; `stored=True` reads back a record that was validated when it was queued.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: OptionalName = None
    child_name: Name
    group: Name
    location: Name
    meeting_date: Annotated[date, BeforeValidator(read_date)]
    meeting_time: Annotated[time, BeforeValidator(read_time)]
    parent1_name: OptionalName = None
    parent1_email: OptionalEmail = None
    parent2_name: OptionalName = None
    parent2_email: OptionalEmail = None
    professionals: Annotated[list[Name], BeforeValidator(read_names)]
    language: Annotated[Literal["nl", "en"], BeforeValidator(read_language)] = "nl"
    duration_minutes: Annotated[int | None, BeforeValidator(read_minutes)] = None

    @model_validator(mode="after")
    def _parents_are_complete(self) -> IntakeRecord:
        # "field: problem": the file reader reports it under that field's column.
        for number in (1, 2):
            name = getattr(self, f"parent{number}_name")
            email = getattr(self, f"parent{number}_email")
            if email and not name:
                raise ValueError(
                    f"parent{number}_name: "
                    + _("parent {number} has an e-mail address but no name").format(number=number)
                )
        if not (self.parent1_email or self.parent2_email):
            raise ValueError("parent1_email: " + _("at least one parent needs an e-mail address"))
        if (
            self.parent1_email
            and self.parent2_email
            and self.parent1_email.casefold() == self.parent2_email.casefold()
        ):
            raise ValueError("parent2_email: " + _("is the same address as parent 1's"))
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
                "meeting_time: "
                + _(
                    "{time} does not exist on {date} (the clocks go forward that night); "
                    "choose another time"
                ).format(time=f"{self.meeting_time:%H:%M}", date=f"{self.meeting_date:%d-%m-%Y}")
            )
        if start.replace(fold=1).utcoffset() != start.utcoffset():
            raise ValueError(
                "meeting_time: "
                + _(
                    "{time} happens twice on {date} (the clocks go back that night); "
                    "choose another time"
                ).format(time=f"{self.meeting_time:%H:%M}", date=f"{self.meeting_date:%d-%m-%Y}")
            )
        if start <= now:
            raise ValueError(
                "meeting_date: "
                + _("the meeting ({when}) is not in the future").format(
                    when=f"{start:%d-%m-%Y %H:%M}"
                )
            )
        if start > now + MAX_AHEAD:
            raise ValueError(
                "meeting_date: "
                + _("the meeting ({when}) is more than two years ahead; check the year").format(
                    when=f"{start:%d-%m-%Y}"
                )
            )
        return self

    @property
    def greeted_names(self) -> list[str]:
        """Every parent's name, with or without an address: the letter greets them all."""
        return [name for name in (self.parent1_name, self.parent2_name) if name]

    @property
    def parents(self) -> list[Parent]:
        """The parents who are mailed: those with an address."""
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
