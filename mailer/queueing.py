"""Queueing an intake file: validate every row first, then put one message per record in the
outbox, skipping records that are already there.

The file is read twice (validate, then queue) instead of held in memory, so an export of any size
takes the same memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mailer.compose import Composer
from mailer.errors import InvalidRecords, MailerError, RowProblem
from mailer.intake_files import read_intake_file
from mailer.outbox import Outbox, RecordAlreadyQueued, StoredMessage
from mailer.records import now_in_amsterdam

__all__ = ["QueueReport", "queue_file", "validate_file"]


@dataclass
class QueueReport:
    """What queueing a file did, row by row."""

    queued: list[StoredMessage] = field(default_factory=list)
    already_queued: list[tuple[int, str]] = field(default_factory=list)  # (row, message ID)
    problems: list[RowProblem] = field(default_factory=list)
    queued_count: int = 0

    @property
    def invalid_rows(self) -> int:
        return len({(problem.source, problem.row) for problem in self.problems})


def validate_file(
    path: Path, composer: Composer, now: datetime | None = None
) -> tuple[int, list[RowProblem]]:
    """Check every row, including that its letter renders into a safe message; return the number
    of valid rows and every problem found."""
    valid = 0
    problems: list[RowProblem] = []
    for result in read_intake_file(path, now=now):
        if result.record is None:
            problems.extend(result.problems)
            continue
        try:
            composer.compose(result.record, queued_by="validation")
        except MailerError as error:
            problems.append(RowProblem(path.name, result.row, "letter", str(error)))
        else:
            valid += 1
    return valid, problems


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
    """Queue every record of `path`; raise InvalidRecords (queueing nothing) when any row is
    invalid, unless `skip_invalid`, in which case the report lists the problems.

    `keep_messages=False` keeps only counts in the report, for very large files.
    """
    now = now or now_in_amsterdam()
    _, problems = validate_file(path, composer, now=now)
    if problems and not skip_invalid:
        raise InvalidRecords(problems)
    report = QueueReport(problems=problems)
    invalid_rows = {problem.row for problem in problems}
    for result in read_intake_file(path, now=now):
        if result.record is None or result.row in invalid_rows:
            continue
        existing = outbox.message_for_key(result.record.dedup_key)
        try:
            if existing is not None:
                raise RecordAlreadyQueued(existing)
            composed = composer.compose(result.record, queued_by)
            stored = outbox.add(composed.draft, composed.data, by=queued_by)
        except RecordAlreadyQueued as already:
            report.already_queued.append((result.row, already.existing_id))
            continue
        report.queued_count += 1
        if keep_messages:
            report.queued.append(stored)
        if on_queued:
            on_queued(stored)
    return report
