"""Reading intake files into validated `IntakeRecord`s.

Formats: CSV (UTF-8, or Windows-1252 as Dutch Excel saves it; `,` `;` or tab), spreadsheets
(.xlsx, .xls, .ods: the first sheet, or the one named), a JSON array and JSON Lines. Every problem
is `FILE:ROW: column: problem`, with the column named as the file names it. A file larger than
`limits.MAX_FILE_BYTES` is refused at once; CSV and JSON Lines are streamed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mailer.errors import InputFileError, RowProblem
from mailer.i18n import _
from mailer.intake.columns import (
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    canonical_column,
    dutch_name,
    suggestion_for,
)
from mailer.intake.json_source import json_array_records, json_lines_records
from mailer.intake.limits import (
    MAX_CELL_CHARACTERS,
    MAX_COLUMNS,
    MAX_FILE_BYTES,
    MAX_PROBLEMS_SHOWN,
)
from mailer.intake.records import IntakeRecord
from mailer.intake.tables import SPREADSHEET_SUFFIXES, csv_rows, file_encoding, spreadsheet_rows

__all__ = ["CANONICAL_COLUMNS", "RowResult", "canonical_column", "read_intake_file"]

_NAME_COLUMNS = ("child_name", "parent1_name", "parent2_name", "professionals")
# A `?` between letters is where an export to an older character set lost a letter (Y?lmaz).
_LOST_LETTER = re.compile(r"\w\?|\?\w")


@dataclass(frozen=True)
class RowResult:
    """One row of the file: its number, and either a record or its problems."""

    row: int
    record: IntakeRecord | None
    problems: tuple[RowProblem, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # canonical -> as the file writes it
    header: bool = False  # the header row: its problems are the file's, no row can be queued

    def column(self, canonical: str) -> str:
        """The column's name as the file writes it (its Dutch name when the file lacks it)."""
        return self.headers.get(canonical) or dutch_name(canonical)


@dataclass
class _Row:
    """One row's values by canonical column, and the column names as the file writes them."""

    number: int
    values: dict[str, Any]
    headers: dict[str, str]
    problems: list[RowProblem]
    header: bool = False  # the header row, with the file's own problems
    # Columns the file lacks: reported once, on the header row, not again on every row.
    missing: frozenset[str] = frozenset()


def _header_problems(
    source: str, row: int, cells: list[Any]
) -> tuple[list[str | None], list[RowProblem]]:
    """Each header cell's canonical column (None: not read), and the header's problems."""
    if len(cells) > MAX_COLUMNS:
        raise InputFileError(
            _(
                "{source}:{row}: the header has {count} columns; an intake file has at most {limit}"
            ).format(source=source, row=row, count=len(cells), limit=MAX_COLUMNS)
        )
    columns: list[str | None] = []
    problems: list[RowProblem] = []
    for cell in cells:
        header = str(cell).strip()
        canonical = canonical_column(header) if header else None
        if header and canonical is None:
            problems.append(RowProblem(source, row, header[:60], suggestion_for(header)))
        elif canonical is not None and canonical in columns:
            problems.append(
                RowProblem(source, row, header, _("the column appears twice; keep one"))
            )
            canonical = None
        columns.append(canonical)
    found = {column for column in columns if column}
    for column in REQUIRED_COLUMNS:
        if column not in found:
            problems.append(_missing_column(source, row, column))
    if not found & {"parent1_email", "parent2_email"}:
        problems.append(_missing_column(source, row, "parent1_email"))
    return columns, problems


def _missing_column(source: str, row: int, column: str) -> RowProblem:
    return RowProblem(
        source,
        row,
        dutch_name(column),
        _("the file has no such column; add it (the README lists the columns)"),
    )


def _is_empty(cells: list[Any]) -> bool:
    return not any(str(cell).strip() for cell in cells if cell is not None)


def _table(source: str, rows: Iterator[tuple[int, list[Any]]]) -> Iterator[_Row]:
    # The header is the first row that is not empty (a sheet may start lower down).
    first = next((row for row in rows if not _is_empty(row[1])), None)
    if first is None:
        return
    header_row, header_cells = first
    columns, problems = _header_problems(source, header_row, header_cells)
    headers = {
        column: str(cell).strip()
        for column, cell in zip(columns, header_cells, strict=True)
        if column
    }
    if problems:
        yield _Row(header_row, {}, headers, problems, header=True)
    missing = frozenset(CANONICAL_COLUMNS) - set(headers)
    width = len(columns)
    for number, cells in rows:
        if _is_empty(cells):
            continue
        if any(str(cell).strip() for cell in cells[width:] if cell is not None):
            problem = _("the row has more cells than the header has columns")
            yield _Row(number, {}, headers, [RowProblem(source, number, _("row"), problem)])
            continue
        values = {column: cell for column, cell in zip(columns, cells, strict=False) if column}
        yield _Row(number, values, headers, [], missing=missing)


def _json_row(source: str, number: int, item: Any) -> _Row:
    if not isinstance(item, dict):
        raise InputFileError(
            _('{source}:{row}: expected a record with its fields, {{"naam_kind": ...}}').format(
                source=source, row=number
            )
        )
    values: dict[str, Any] = {}
    headers: dict[str, str] = {}
    problems: list[RowProblem] = []
    for key, value in item.items():
        canonical = canonical_column(key)
        if canonical is None:
            problems.append(RowProblem(source, number, key[:60], suggestion_for(key)))
        elif canonical in values:
            problems.append(RowProblem(source, number, key, _("the field appears twice")))
        else:
            values[canonical] = value
            headers[canonical] = key
    # An unknown key says the file is not what it should be, as an unknown column does.
    return _Row(number, values, headers, problems, header=bool(problems))


def _rows(path: Path, source: str, sheet: str | None, notices: list[str]) -> Iterator[_Row]:
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv", ".txt"}:
        encoding = file_encoding(path, source)
        if encoding == "cp1252":
            notices.append(
                _(
                    "{source}: the file is not UTF-8; it is read as Windows-1252, as Excel "
                    "saves 'CSV (gescheiden door lijstscheidingsteken)'"
                ).format(source=source)
            )
        return _table(source, csv_rows(path, source, encoding))
    if suffix in SPREADSHEET_SUFFIXES:
        return _table(source, spreadsheet_rows(path, source, sheet))
    if suffix == ".json":
        return (_json_row(source, n, item) for n, item in json_array_records(path, source))
    if suffix in {".jsonl", ".ndjson"}:
        return (_json_row(source, n, item) for n, item in json_lines_records(path, source))
    raise InputFileError(
        _(
            "{source}: unknown file type '{suffix}'; use .xlsx, .csv, .ods, .xls, .json or .jsonl"
        ).format(source=source, suffix=suffix)
    )


def _column_name(row: _Row, canonical: str) -> str:
    return row.headers.get(canonical) or dutch_name(canonical)


def _problems_from(source: str, row: _Row, error: ValidationError) -> list[RowProblem]:
    problems = []
    for issue in error.errors(include_url=False, include_input=False):
        location = [str(part) for part in issue["loc"] if not isinstance(part, int)]
        field = location[0] if location else ""
        if issue["type"] == "missing":
            if field in row.missing:
                continue  # reported once for the file
            message = _("is missing") if field not in row.headers else _("is empty")
        elif issue["type"] == "value_error":
            message = str(issue["ctx"]["error"]) if "ctx" in issue else issue["msg"]
        else:
            message = _("is not a value this column can hold")
        # Checks across fields say which field they are about as "field: problem".
        head, separator, rest = message.partition(": ")
        if not location and separator and head in CANONICAL_COLUMNS:
            field, message = head, rest
        problems.append(RowProblem(source, row.number, _column_name(row, field), message))
    return problems


def _long_cells(source: str, row: _Row) -> list[RowProblem]:
    return [
        RowProblem(
            source,
            row.number,
            _column_name(row, column),
            _("holds more than {limit} characters").format(limit=MAX_CELL_CHARACTERS),
        )
        for column, value in row.values.items()
        if len(str(value)) > MAX_CELL_CHARACTERS
    ]


def _lost_letters(source: str, row: _Row) -> list[str]:
    return [
        _(
            "{source}:{row}: {column}: '{text}' holds a '?' where a letter may have been lost "
            "when the file was saved; check the name"
        ).format(source=source, row=row.number, column=_column_name(row, column), text=text)
        for column in _NAME_COLUMNS
        if isinstance(text := row.values.get(column), str) and _LOST_LETTER.search(text)
    ]


def read_intake_file(
    path: Path,
    now: datetime | None = None,
    *,
    sheet: str | None = None,
    notices: list[str] | None = None,
) -> Iterator[RowResult]:
    """Yield every row of the file, validated; raise InputFileError when the file is unreadable.

    Problems with the header (an unknown, repeated or missing column) come first, on row 1;
    `notices` receives warnings that do not stop the file (its encoding, a lost letter).
    """
    source = path.name
    if not path.is_file():
        raise InputFileError(_("{path}: no such file").format(path=path))
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputFileError(
            _("{source}: the file is {size} MB; at most {limit} MB can be queued at once").format(
                source=source, size=size // (1024 * 1024), limit=MAX_FILE_BYTES // (1024 * 1024)
            )
        )
    notices = notices if notices is not None else []
    context = {"now": now} if now else None
    for row in _rows(path, source, sheet, notices):
        if not row.values:
            yield RowResult(row.number, None, tuple(row.problems), row.headers, row.header)
            continue
        problems = row.problems + _long_cells(source, row)
        if problems:
            yield RowResult(row.number, None, tuple(problems), row.headers, row.header)
            continue
        try:
            record = IntakeRecord.model_validate(row.values, context=context)
        except ValidationError as error:
            yield RowResult(
                row.number, None, tuple(_problems_from(source, row, error)), row.headers
            )
        else:
            if len(notices) < MAX_PROBLEMS_SHOWN:
                notices.extend(_lost_letters(source, row))
            yield RowResult(row.number, record, (), row.headers)
