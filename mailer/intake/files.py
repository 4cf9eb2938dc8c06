"""Reading intake files into validated `IntakeRecord`s.

Formats: CSV (`,` `;` or tab, with or without a byte-order mark), a JSON array, JSON Lines. Every
problem is named as `FILE:ROW: FIELD: problem`.

Rows are read one at a time so that a large export does not have to fit in memory; a JSON array is
the exception (the standard library cannot stream it).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from mailer.errors import InputFileError, RowProblem
from mailer.intake.records import IntakeRecord

__all__ = ["RowResult", "canonical_column", "read_intake_file"]

CANONICAL_COLUMNS = (
    "id",
    "child_name",
    "group",
    "location",
    "meeting_date",
    "meeting_time",
    "parent1_name",
    "parent1_email",
    "parent2_name",
    "parent2_email",
    "professionals",
    "language",
    "duration_minutes",
)

# Dutch (and a few common English) column names from planning-system exports.
COLUMN_ALIASES = {
    "ref": "id",
    "referentie": "id",
    "kenmerk": "id",
    "naam_kind": "child_name",
    "kind": "child_name",
    "child": "child_name",
    "groep": "group",
    "group_name": "group",
    "locatie": "location",
    "vestiging": "location",
    "datum": "meeting_date",
    "date": "meeting_date",
    "tijd": "meeting_time",
    "time": "meeting_time",
    "ouder1_naam": "parent1_name",
    "ouder1_email": "parent1_email",
    "ouder1_e_mail": "parent1_email",
    "ouder2_naam": "parent2_name",
    "ouder2_email": "parent2_email",
    "ouder2_e_mail": "parent2_email",
    "pedagogisch_professionals": "professionals",
    "professionals_namen": "professionals",
    "medewerkers": "professionals",
    "taal": "language",
    "duur": "duration_minutes",
    "duur_minuten": "duration_minutes",
}
KNOWN_NAMES = set(CANONICAL_COLUMNS) | set(COLUMN_ALIASES)


def _normalise(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def canonical_column(name: str) -> str | None:
    """The canonical name of a column header, or None when it is not known."""
    key = _normalise(name)
    if key in CANONICAL_COLUMNS:
        return key
    return COLUMN_ALIASES.get(key)


@dataclass(frozen=True)
class RowResult:
    """One row of the file: its number, and either a record or its problems."""

    row: int
    record: IntakeRecord | None
    problems: tuple[RowProblem, ...] = ()


UNKNOWN_COLUMNS = "__unknown_columns__"  # carries column problems along with a row's cells


def _unknown_column(header: str) -> tuple[str | None, str]:
    """The column a misspelt header most likely meant (or None), and the problem to report."""
    guess = difflib.get_close_matches(_normalise(header), KNOWN_NAMES, n=1, cutoff=0.75)
    if guess:
        return canonical_column(
            guess[0]
        ), f"'{header.strip()}' is not known; did you mean '{guess[0]}'?"
    known = ", ".join(CANONICAL_COLUMNS)
    return None, f"'{header.strip()}' is not known; known columns: {known}"


def _map_header(source: str, headers: list[str]) -> tuple[list[str | None], list[str]]:
    """Each header's canonical column, and the problems with unknown ones.

    A misspelt column is still read under the name it most likely meant, so that the rest of the
    file is checked too and every problem is reported at once; a file with an unknown column is
    never queued (see `queueing`).
    """
    mapped: list[str | None] = []
    problems: list[str] = []
    for header in headers:
        canonical = canonical_column(header)
        if canonical is None:
            canonical, problem = _unknown_column(header)
            problems.append(problem)
        if canonical is not None and canonical in mapped:
            raise InputFileError(f"{source}:1: column '{header.strip()}' appears twice")
        mapped.append(canonical)
    return mapped, problems


def _decode_error(source: str, error: UnicodeDecodeError, line: int) -> InputFileError:
    return InputFileError(
        f"{source}:{line}: the file is not UTF-8 text (byte 0x{error.object[error.start]:02x}); "
        "in Excel choose 'Save as' > 'CSV UTF-8', then queue it again"
    )


def _decoded_lines(handle: BinaryIO, source: str) -> Iterator[str]:
    """The file's lines as text, naming the line of the first byte that is not UTF-8.

    Decoding line by line (instead of in the text layer's large chunks) is what makes the line
    number in the error message right.
    """
    for number, raw in enumerate(handle, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _decode_error(source, error, number) from None
        yield line.removeprefix("\ufeff") if number == 1 else line


def _csv_rows(path: Path, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as handle:
        lines = _decoded_lines(handle, source)
        first_line = next(lines, "")
        if not first_line.strip():
            raise InputFileError(f"{source}: the file is empty; it needs a header row and rows")
        # Dutch Excel writes `;`, others `,`; a tab-separated export has tabs. The header decides.
        delimiter = max(("\t", ";", ","), key=first_line.count)
        header_row = next(csv.reader(io.StringIO(first_line), delimiter=delimiter))
        columns, column_problems = _map_header(source, header_row)
        if column_problems:
            yield 1, {UNKNOWN_COLUMNS: column_problems}
        reader = csv.reader(lines, delimiter=delimiter)
        # Rows are numbered as a spreadsheet shows them (the header is row 1), which differs from
        # the line number when a quoted cell holds a line break.
        row_number = 1
        while True:
            row_number += 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise InputFileError(f"{source}:{row_number}: not valid CSV: {error}") from None
            if not any(cell.strip() for cell in cells):
                continue
            extra = [cell for cell in cells[len(columns) :] if cell.strip()]
            if extra:
                yield row_number, {"__extra__": extra}
                continue
            yield (
                row_number,
                {column: cell for column, cell in zip(columns, cells, strict=False) if column},
            )


def _json_object_row(source: str, row: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InputFileError(f"{source}:{row}: expected an object with the record's fields")
    result: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in item.items():
        canonical = canonical_column(str(key))
        if canonical is None:
            canonical, problem = _unknown_column(str(key))
            problems.append(problem)
        if canonical is not None and canonical not in result:
            result[canonical] = value
    if problems:
        result[UNKNOWN_COLUMNS] = problems
    return result


def _json_rows(path: Path, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as error:
        raise _decode_error(source, error, 1) from None
    except json.JSONDecodeError as error:
        raise InputFileError(f"{source}:{error.lineno}: not valid JSON: {error.msg}") from None
    if not isinstance(data, list):
        raise InputFileError(f"{source}: expected a JSON array of records")
    for index, item in enumerate(data, start=1):
        yield index, _json_object_row(source, index, item)


def _json_lines_rows(path: Path, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as handle:
        for line_number, line in enumerate(_decoded_lines(handle, source), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputFileError(
                    f"{source}:{line_number}: not valid JSON: {error.msg}"
                ) from None
            yield line_number, _json_object_row(source, line_number, item)


def _raw_rows(path: Path, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json_rows(path, source)
    if suffix in {".jsonl", ".ndjson"}:
        return _json_lines_rows(path, source)
    if suffix in {".csv", ".tsv", ".txt"}:
        return _csv_rows(path, source)
    raise InputFileError(
        f"{source}: unknown file type '{suffix}'; use .csv, .json or .jsonl "
        "(in Excel: 'Save as' > 'CSV UTF-8')"
    )


def _problems_from(source: str, row: int, error: ValidationError) -> tuple[RowProblem, ...]:
    problems = []
    for issue in error.errors(include_url=False, include_input=False):
        location = [str(part) for part in issue["loc"] if not isinstance(part, int)]
        field = location[0] if location else "record"
        message = issue["msg"].removeprefix("Value error, ")
        if issue["type"] == "missing":
            message = "is missing: the file has no such column, or the cell is empty"
        # Checks across fields say which field they are about as "field: problem".
        head, separator, rest = message.partition(": ")
        if not location and separator and head in CANONICAL_COLUMNS:
            field, message = head, rest
        problems.append(RowProblem(source, row, field, message))
    return tuple(problems)


def read_intake_file(path: Path, now: datetime | None = None) -> Iterator[RowResult]:
    """Yield every row of the file, validated; raise InputFileError when the file is unreadable.

    An unknown column is a problem of field `column`, on the header's row (CSV) or on each row
    that has it (JSON).
    """
    source = path.name
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    context = {"now": now} if now else None
    for row, raw in _raw_rows(path, source):
        if "__extra__" in raw:
            problem = RowProblem(source, row, "row", "has more cells than the header has columns")
            yield RowResult(row, None, (problem,))
            continue
        columns = tuple(
            RowProblem(source, row, "column", text) for text in raw.pop(UNKNOWN_COLUMNS, [])
        )
        if columns and not raw:  # the header line of a CSV file
            yield RowResult(row, None, columns)
            continue
        try:
            record = IntakeRecord.model_validate(raw, context=context)
        except ValidationError as error:
            yield RowResult(row, None, columns + _problems_from(source, row, error))
        else:
            yield RowResult(row, None if columns else record, columns)
