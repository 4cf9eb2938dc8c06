"""Queueing an intake file: validate every row first, then put one message per record in the
outbox, skipping records that are already there. A record queued again with changes replaces its
unsent message, or (after it was sent) gets an updated invitation: see `rescheduling`.

The file is read twice (validate, then queue) instead of held in memory, so an export of any size
takes the same memory.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mailer.clock import now_in_amsterdam
from mailer.config import Settings
from mailer.errors import InvalidRecords, MailerError, RowProblem
from mailer.intake.files import read_intake_file
from mailer.intake.records import IntakeRecord
from mailer.letters.compose import Composer
from mailer.outbox.rescheduling import queue_again
from mailer.outbox.store import Outbox, RecordAlreadyQueued, StoredMessage

__all__ = ["QueueReport", "queue_file", "unknown_location", "validate_file"]


@dataclass
class QueueReport:
    """What queueing a file did, row by row."""

    queued: list[StoredMessage] = field(default_factory=list)
    already_queued: list[tuple[int, str]] = field(default_factory=list)  # (row, message ID)
    # Unsent messages rendered again because their record changed (same ID, approval withdrawn).
    replaced: list[tuple[int, StoredMessage]] = field(default_factory=list)
    # Updated invitations for meetings whose first invitation was sent (also in `queued`).
    updated: list[tuple[int, StoredMessage]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    queued_count: int = 0

    @property
    def invalid_rows(self) -> int:
        return len({(problem.source, problem.row) for problem in self.problems})


def validate_file(
    path: Path, composer: Composer, now: datetime | None = None
) -> tuple[int, list[RowProblem]]:
    """Check every row's record and location; return the number of valid rows and every
    problem found. (Whether each letter can be made is found while queueing, in the same
    transaction, so a row that fails there still queues nothing of the file.)"""
    valid = 0
    problems: list[RowProblem] = []
    for result in read_intake_file(path, now=now):
        if result.record is None:
            problems.extend(result.problems)
            continue
        location = unknown_location(composer.settings, result.record.location)
        if location:
            problems.append(RowProblem(path.name, result.row, "location", location))
            continue
        valid += 1
    return valid, problems


def unknown_location(settings: Settings, location: str) -> str | None:
    """Why a location cannot be used, or None: the letter and the calendar need its address.

    A workspace that lists no locations at all is not checked (the address is then left out).
    """
    if not settings.locations or location in settings.locations:
        return None
    guess = difflib.get_close_matches(location, list(settings.locations), n=1)
    hint = f"did you mean '{guess[0]}'? " if guess else ""
    return (
        f"'{location}' is not a location in config/settings.toml; {hint}"
        f'add it as [locations."{location}"] with its address'
    )


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
) -> QueueReport:
    """Queue every record of `path` in one transaction; raise InvalidRecords (queueing
    nothing) when any row is invalid, unless `skip_invalid`, in which case the report lists
    the problems.

    `keep_messages=False` keeps only counts in the report, for very large files; `on_queued`
    is told of each message as it is queued (committed when this returns).
    """
    now = now or now_in_amsterdam()
    _, problems = validate_file(path, composer, now=now)
    # An unknown column means the file itself is wrong: nothing of it is queued, whatever
    # --skip-invalid says, since its rows were read under guessed column names.
    wrong_file = any(problem.field == "column" for problem in problems)
    if problems and (wrong_file or not skip_invalid):
        raise InvalidRecords(problems)
    report = QueueReport(problems=list(problems))
    invalid_rows = {problem.row for problem in problems}
    with outbox.one_transaction():
        for result in read_intake_file(path, now=now):
            if result.record is None or result.row in invalid_rows:
                continue
            try:
                stored = _queue_record(
                    result.record, result.row, outbox, composer, queued_by, report
                )
            except MailerError as error:
                report.problems.append(RowProblem(path.name, result.row, "letter", str(error)))
                continue
            if stored is None:
                continue
            report.queued_count += 1
            if keep_messages:
                report.queued.append(stored)
            if on_queued:
                on_queued(stored)
        if len(report.problems) > len(problems) and not skip_invalid:
            # A row that failed only now (its message could not be made): the file was
            # promised to be queued whole, so the transaction goes, and with it every row.
            raise InvalidRecords(report.problems)
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
    try:
        if existing is None:
            composed = composer.compose(record, queued_by)
            return outbox.add(composed.draft, composed.data, by=queued_by)
        change = queue_again(outbox, composer, existing, record, queued_by)
    except RecordAlreadyQueued as already:
        report.already_queued.append((row, already.existing_id))
        return None
    if change.action == "updated":
        report.updated.append((row, change.message))
        return change.message
    if change.action == "replaced":
        report.replaced.append((row, change.message))
    else:
        report.already_queued.append((row, change.message.id))
    return None
