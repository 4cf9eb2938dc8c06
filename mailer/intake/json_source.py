"""The records of a JSON intake file: a JSON array of objects, or JSON Lines (one per line).

Hostile JSON ends in one line: a key given twice in one object (which the standard library would
silently resolve by keeping the last), nesting deeper than a record has, and numbers with more
digits than any field needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mailer.errors import InputFileError
from mailer.i18n import _
from mailer.intake.limits import MAX_JSON_DEPTH

__all__ = ["json_array_records", "json_lines_records"]

_MAX_NUMBER_CHARACTERS = 20


class _Refused(ValueError):
    """Raised inside the JSON decoder's hooks; turned into an InputFileError with the line."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(_("the key '{key}' appears twice in one record").format(key=key[:60]))
        result[key] = value
    return result


def _number(text: str) -> float | int:
    if len(text) > _MAX_NUMBER_CHARACTERS:
        raise _Refused(
            _("a number has more than {limit} characters").format(limit=_MAX_NUMBER_CHARACTERS)
        )
    return float(text) if any(char in text for char in ".eE") else int(text)


def _constant(name: str) -> Any:
    raise _Refused(_("'{name}' is not a value JSON allows").format(name=name))


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


def _loads(text: str, source: str, line: int, max_depth: int) -> Any:
    """Parse `text`, refusing what `_object`, `_number` and `_constant` refuse."""
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_number,
            parse_float=_number,
            parse_constant=_constant,
        )
        if _depth(value) > max_depth:
            raise RecursionError
    except json.JSONDecodeError as error:
        raise InputFileError(
            _("{source}:{line}: not valid JSON near column {column}; check the file there").format(
                source=source, line=line + error.lineno - 1, column=error.colno
            )
        ) from None
    except (_Refused, RecursionError) as error:
        problem = (
            str(error)
            if isinstance(error, _Refused)
            else _("the records are nested deeper than an intake file has")
        )
        raise InputFileError(
            _("{source}:{line}: not a usable JSON intake file: {problem}").format(
                source=source, line=line, problem=problem
            )
        ) from None
    return value


def json_array_records(path: Path, source: str) -> Iterator[tuple[int, Any]]:
    """Every item of a JSON array, numbered from 1 (the whole file is parsed at once; the size
    limit keeps that bounded)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(
            _("{source}: the file is not UTF-8 text; save it as UTF-8").format(source=source)
        ) from None
    data = _loads(text, source, 1, MAX_JSON_DEPTH)
    if not isinstance(data, list):
        raise InputFileError(
            _("{source}: expected a JSON array of records, [{{...}}, {{...}}]").format(
                source=source
            )
        )
    yield from enumerate(data, start=1)


def json_lines_records(path: Path, source: str) -> Iterator[tuple[int, Any]]:
    """Every line of a JSON Lines file, numbered by line; empty lines are skipped."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise InputFileError(
                    _("{source}:{line}: the line is not UTF-8 text; save the file as UTF-8").format(
                        source=source, line=number
                    )
                ) from None
            if line.strip():
                yield number, _loads(line, source, number, MAX_JSON_DEPTH - 1)
