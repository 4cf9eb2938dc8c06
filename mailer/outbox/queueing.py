"""Queueing an intake file: validate every row first, then put one message per record in the
outbox in one transaction, skipping records that are already there. A record queued again with
changes replaces its unsent message, or (after it was sent) gets an updated invitation: see
`rescheduling`.

Validation finds every problem a row can have (its values, its location, a row it repeats, and
whether its addresses make a correct To header) before anything is queued. The file is read twice
(validate, then queue) instead of held in memory, and only the first problems are kept, so an
export of any size takes the same memory.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from pathlib import Path

from mailer.clock import now_in_amsterdam
from mailer.config import Settings
from mailer.errors import InvalidRecords, MailerError, RowProblem
from mailer.i18n import _, ngettext
from mailer.intake.files import RowResult, read_intake_file
from mailer.intake.limits import MAX_PROBLEMS_SHOWN
from mailer.intake.records import IntakeRecord
from mailer.letters.compose import Composer
from mailer.letters.message import check_recipients
from mailer.outbox.rescheduling import queue_again
from mailer.outbox.store import Outbox, RecordAlreadyQueued, StoredMessage

__all__ = [
    "FileCheck",
    "InvalidIntakeFile",
    "QueueReport",
    "RowOutcome",
    "queue_file",
    "unknown_location",
    "validate_file",
]


@dataclass
class FileCheck:
    """What validating a file found: the first problems, their total, and which rows failed."""

    valid_rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    total_problems: int = 0
    invalid_rows: set[int] = field(default_factory=set)
    header_problem: bool = False  # the file itself is wrong: no row of it can be queued

    def add(self, problem: RowProblem, *, header: bool = False) -> None:
        self.total_problems += 1
        if len(self.problems) < MAX_PROBLEMS_SHOWN:
            self.problems.append(problem)
        if header:
            self.header_problem = True
        else:
            self.invalid_rows.add(problem.row)


class InvalidIntakeFile(InvalidRecords):
    """The file has problems; nothing of it was queued. `problems` holds the first ones."""

    def __init__(self, check: FileCheck) -> None:
        self.problems = check.problems
        self.check = check
        rows = len(check.invalid_rows)
        if rows:
            text = ngettext(
                "{count} invalid row; correct it and queue the file again",
                "{count} invalid rows; correct them and queue the file again",
                rows,
            ).format(count=rows)
        else:
            text = _("the header row has a problem; correct it and queue the file again")
        MailerError.__init__(self, text)


@dataclass(frozen=True)
class RowOutcome:
    """What queueing did with one valid row: `queued` (new), `updated` (an updated invitation
    after the first was sent), `replaced` (an unsent message now holds the changed record) or
    `unchanged` (already in the outbox as it is)."""

    row: int
    action: str
    message_id: str
    child_name: str
    meeting_at: datetime
    to: tuple[str, ...]


@dataclass
class QueueReport:
    """What queueing a file did, row by row."""

    queued: list[StoredMessage] = field(default_factory=list)
    # Records already in the outbox as they are now: (row, message ID).
    already_queued: list[tuple[int, str]] = field(default_factory=list)
    # Unsent messages rendered again because their record changed (same ID, approval withdrawn).
    replaced: list[tuple[int, StoredMessage]] = field(default_factory=list)
    # Updated invitations for meetings whose first invitation was sent (also in `queued`).
    updated: list[tuple[int, StoredMessage]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    total_problems: int = 0
    invalid_rows: int = 0
    queued_count: int = 0
    outcomes: list[RowOutcome] = field(default_factory=list)  # in row order

    def count(self, action: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == action)


def _recipients(record: IntakeRecord) -> list[Address]:
    addresses = []
    for parent in record.parents:
        username, _at, domain = parent.email.rpartition("@")
        addresses.append(Address(display_name=parent.name, username=username, domain=domain))
    return addresses


def _row_problems(
    source: str, result: RowResult, record: IntakeRecord, settings: Settings, seen: dict[bytes, int]
) -> list[RowProblem]:
    """What stops a valid record from being queued: its location, a repeat, its To header."""
    row = result.row
    problems = []
    location = unknown_location(settings, record.location)
    if location:
        problems.append(RowProblem(source, row, result.column("location"), location))
    key = bytes.fromhex(record.dedup_key)
    first = seen.setdefault(key, row)
    if first != row:
        column = result.column("id" if record.id else "child_name")
        problems.append(
            RowProblem(
                source, row, column, _("repeats row {row}; remove one of the two").format(row=first)
            )
        )
    try:
        check_recipients(_recipients(record))
    except MailerError:
        problems.append(
            RowProblem(
                source,
                row,
                result.column("parent1_name"),
                _(
                    "the parents' names and addresses cannot be written as one To header; "
                    "shorten or simplify the names"
                ),
            )
        )
    return problems


def validate_file(
    path: Path,
    composer: Composer,
    now: datetime | None = None,
    *,
    sheet: str | None = None,
    notices: list[str] | None = None,
) -> FileCheck:
    """Check every row: its values, its location, repeats within the file, and its To header."""
    check = FileCheck()
    seen: dict[bytes, int] = {}
    for result in read_intake_file(path, now=now, sheet=sheet, notices=notices):
        problems = list(result.problems)
        if result.record is not None:
            problems += _row_problems(path.name, result, result.record, composer.settings, seen)
        for problem in problems:
            check.add(problem, header=result.header)
        if result.record is not None and not problems:
            check.valid_rows += 1
        elif result.record is None and not problems:
            check.invalid_rows.add(result.row)  # its column is missing: reported for the file
    return check


def unknown_location(settings: Settings, location: str) -> str | None:
    """Why a location cannot be used, or None: the letter and the calendar need its address.

    A workspace that lists no locations at all is not checked (the address is then left out).
    """
    if not settings.locations or location in settings.locations:
        return None
    guess = difflib.get_close_matches(location, list(settings.locations), n=1)
    hint = _("did you mean '{guess}'? ").format(guess=guess[0]) if guess else ""
    return _(
        "'{location}' is not a location in config/settings.toml; {hint}"
        'add it as [locations."{location}"] with its address'
    ).format(location=location, hint=hint)


def queue_file(
    path: Path,
    outbox: Outbox,
    composer: Composer,
    queued_by: str,
    *,
    skip_invalid: bool = False,
    now: datetime | None = None,
    keep_messages: bool = True,
    on_queued: Callable[[StoredMessage], None] | None = None,
    sheet: str | None = None,
    notices: list[str] | None = None,
) -> QueueReport:
    """Queue every record of `path` in one transaction; raise InvalidIntakeFile (queueing
    nothing) when any row is invalid, unless `skip_invalid`, in which case the valid rows are
    queued and the report lists the problems. A file whose header is wrong is never queued.

    `keep_messages=False` keeps only counts in the report, for very large files; `on_queued`
    is told of each message as it is queued (committed when this returns); `notices` receives
    warnings that do not stop the file.
    """
    now = now or now_in_amsterdam()
    check = validate_file(path, composer, now=now, sheet=sheet, notices=notices)
    if check.problems and (check.header_problem or not skip_invalid):
        raise InvalidIntakeFile(check)
    report = QueueReport(
        problems=list(check.problems),
        total_problems=check.total_problems,
        invalid_rows=len(check.invalid_rows),
    )
    with outbox.one_transaction():
        for result in read_intake_file(path, now=now, sheet=sheet):
            if result.record is None or result.row in check.invalid_rows:
                continue
            try:
                stored = _queue_record(
                    result.record, result.row, outbox, composer, queued_by, report
                )
            except MailerError as error:
                # Validation checks everything a row decides; what is left is the workspace's
                # templates, the same for every row. The file is still queued whole or not.
                check.add(RowProblem(path.name, result.row, _("letter"), str(error)))
                if not skip_invalid:
                    raise InvalidIntakeFile(check) from None
                report.problems, report.total_problems = check.problems, check.total_problems
                report.invalid_rows = len(check.invalid_rows)
                continue
            if stored is None:
                continue
            report.queued_count += 1
            if keep_messages:
                report.queued.append(stored)
            if on_queued:
                on_queued(stored)
    return report


def _queue_record(
    record: IntakeRecord,
    row: int,
    outbox: Outbox,
    composer: Composer,
    queued_by: str,
    report: QueueReport,
) -> StoredMessage | None:
    """Queue one record; return the new message, or None when no new message was made."""
    existing = outbox.message_for_key(record.dedup_key)

    def outcome(action: str, message_id: str, to: list[str]) -> None:
        report.outcomes.append(
            RowOutcome(row, action, message_id, record.child_name, record.meeting_at, tuple(to))
        )

    try:
        if existing is None:
            composed = composer.compose(record, queued_by)
            stored = outbox.add(composed.draft, composed.data, by=queued_by)
            outcome("queued", stored.id, stored.to)
            return stored
        change = queue_again(outbox, composer, existing, record, queued_by)
    except RecordAlreadyQueued as already:
        report.already_queued.append((row, already.existing_id))
        outcome("unchanged", already.existing_id, [p.email for p in record.parents])
        return None
    message = change.message
    if change.action == "updated":
        report.updated.append((row, message))
        outcome("updated", message.id, message.to)
        return message
    if change.action == "replaced":
        report.replaced.append((row, message))
        outcome("replaced", message.id, message.to)
    else:
        report.already_queued.append((row, message.id))
        outcome("unchanged", message.id, message.to)
    return None
