"""The rows of a table-shaped intake file: CSV (with its encoding and separator found) and
spreadsheets (.xlsx, .xls, .ods, read with python-calamine).

Each reader yields `(row number, cells)` with the header as row 1, numbered as a spreadsheet shows
them. CSV is streamed line by line; a spreadsheet sheet is read by the library in one go, which
the size limits keep bounded.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mailer.errors import InputFileError
from mailer.i18n import _
from mailer.intake.limits import MAX_LINE_CHARACTERS, MAX_UNPACKED_BYTES

__all__ = ["SPREADSHEET_SUFFIXES", "csv_rows", "file_encoding", "spreadsheet_rows"]

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
_CHUNK = 1024 * 1024


def file_encoding(path: Path, source: str) -> str:
    """`utf-8-sig` when the whole file is UTF-8 (with or without byte-order mark), else
    `cp1252`, which Dutch Excel writes for "CSV (gescheiden door lijstscheidingsteken)"."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            pass
        else:
            return "utf-8-sig"
        handle.seek(0)
        cp1252 = codecs.getincrementaldecoder("cp1252")()
        try:
            while chunk := handle.read(_CHUNK):
                cp1252.decode(chunk)
        except UnicodeDecodeError:
            raise InputFileError(
                _(
                    "{source}: the file is neither UTF-8 nor Windows-1252 text; in Excel choose "
                    "'Opslaan als' > 'CSV UTF-8 (door komma's gescheiden)' and queue it again"
                ).format(source=source)
            ) from None
    return "cp1252"


def _lines(handle: BinaryIO, encoding: str, source: str) -> Iterator[str]:
    for number, raw in enumerate(handle, start=1):
        if len(raw) > MAX_LINE_CHARACTERS:
            raise InputFileError(
                _(
                    "{source}:{line}: the line holds more than {limit} characters; this is not "
                    "an intake file"
                ).format(source=source, line=number, limit=MAX_LINE_CHARACTERS)
            )
        line = raw.decode(encoding)
        yield line.removeprefix("\ufeff") if number == 1 else line


def csv_rows(path: Path, source: str, encoding: str) -> Iterator[tuple[int, list[Any]]]:
    """The rows of a CSV file; the header's most frequent separator (`;` `,` or tab) is used."""
    with path.open("rb") as handle:
        lines = _lines(handle, encoding, source)
        first_line = next(lines, "")
        if not first_line.strip():
            return
        delimiter = max(("\t", ";", ","), key=first_line.count)
        yield 1, next(csv.reader([first_line], delimiter=delimiter))
        reader = csv.reader(lines, delimiter=delimiter)
        # The row number counts records, not lines: a quoted cell may hold a line break.
        row_number = 1
        while True:
            row_number += 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise InputFileError(
                    _(
                        "{source}:{row}: the row is not valid CSV (a quote is not closed?); "
                        "save the file from Excel again"
                    ).format(source=source, row=row_number)
                ) from None
            yield row_number, list(cells)


def _check_unpacked_size(path: Path, source: str) -> None:
    """Refuse a zip whose content unpacks to more than the limit (a "zip bomb")."""
    if path.suffix.lower() == ".xls":
        return  # not a zip: its size is the file's
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        raise _unreadable(source) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise InputFileError(
            _("{source}: the spreadsheet unpacks to more than {limit} MB; split it").format(
                source=source, limit=MAX_UNPACKED_BYTES // (1024 * 1024)
            )
        )


def _unreadable(source: str) -> InputFileError:
    return InputFileError(
        _(
            "{source}: the spreadsheet cannot be read; open it in Excel, save it again as .xlsx "
            "and queue it again"
        ).format(source=source)
    )


def spreadsheet_rows(path: Path, source: str, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
    """The rows of the first sheet (or of `sheet`), with dates and times as Python values."""
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError, XmlError, ZipError

    _check_unpacked_size(path, source)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        names = list(workbook.sheet_names)
        if sheet is not None and sheet not in names:
            raise InputFileError(
                _("{source}: there is no sheet '{sheet}'; the sheets are: {names}").format(
                    source=source, sheet=sheet, names=", ".join(names)
                )
            )
        if not names:
            return
        rows = workbook.get_sheet_by_name(sheet or names[0]).iter_rows()
        for number, cells in enumerate(rows, start=1):
            yield number, list(cells)
    except (CalamineError, PasswordError, XmlError, ZipError, ValueError, OSError):
        raise _unreadable(source) from None
