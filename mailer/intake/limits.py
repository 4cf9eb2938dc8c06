"""How large an intake file may be, so that a wrong or hostile file ends at once in one line
instead of taking minutes and gigabytes.

A week's intake file is a few dozen rows and a year's a few thousand; these limits leave a wide
margin above that.
"""

from __future__ import annotations

__all__ = [
    "MAX_CELL_CHARACTERS",
    "MAX_COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_LINE_CHARACTERS",
    "MAX_PROBLEMS_SHOWN",
    "MAX_UNPACKED_BYTES",
]

MAX_FILE_BYTES = 50 * 1024 * 1024  # 50 MB: about 200,000 rows of CSV
MAX_UNPACKED_BYTES = 500 * 1024 * 1024  # an .xlsx or .ods is a zip: its content, unpacked
MAX_COLUMNS = 100  # an intake file has 13 columns; a few more are left over from an export
MAX_LINE_CHARACTERS = 100_000  # one line of CSV
MAX_CELL_CHARACTERS = 10_000  # names are at most 120; a cell this long is not a value
MAX_JSON_DEPTH = 4  # array > record > list of names
MAX_PROBLEMS_SHOWN = 100  # then only the total is counted
