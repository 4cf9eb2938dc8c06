"""Reading intake files as planning systems and Excel write them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailer.errors import InputFileError
from mailer.intake.files import CANONICAL_COLUMNS, read_intake_file
from tests.conftest import future_date, intake_row, write_csv


def records_of(path: Path) -> list[str]:
    results = list(read_intake_file(path))
    assert all(result.record is not None for result in results), [r.problems for r in results]
    return [result.record.child_name for result in results if result.record]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    path = write_csv(
        tmp_path / "in.csv", [intake_row(), intake_row(id="2", child_name="Bo")], delimiter
    )
    assert records_of(path) == ["Zoë de Vries", "Bo"]


def test_excel_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [intake_row()], ";", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert records_of(path) == ["Zoë de Vries"]


def test_dutch_column_names_in_any_case_and_spacing(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        " Naam Kind ;Groep;LOCATIE;datum;tijd;ouder1_naam;Ouder1-Email;pedagogisch professionals\n"
        f"Zoë;Dolfijnen;De Speeldoos;{future_date()};14:30;Sanne;sanne@example.nl;Anna\n",
        encoding="utf-8",
    )
    [result] = list(read_intake_file(path))
    assert result.record is not None
    assert result.record.child_name == "Zoë"
    assert result.record.parent1_email == "sanne@example.nl"


def test_misspelt_column_is_a_problem_that_names_it_and_the_rows_are_still_checked(
    tmp_path: Path,
) -> None:
    good, bad = intake_row(), intake_row(id="2", child_name="")
    for row in (good, bad):
        row["ouder1_emial"] = row.pop("parent1_email")
    results = list(read_intake_file(write_csv(tmp_path / "in.csv", [good, bad])))
    assert [str(problem) for result in results for problem in result.problems] == [
        "in.csv:1: column: 'ouder1_emial' is not known; did you mean 'ouder1_email'?",
        "in.csv:3: child_name: is empty",
    ]


def test_cp1252_file_gets_a_clear_error_naming_file_and_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "excel.csv", [intake_row(), intake_row(id="2", child_name="Zoë")], ";", "cp1252"
    )
    with pytest.raises(
        InputFileError, match=r"excel.csv:\d+: the file is not UTF-8 text.*CSV UTF-8"
    ):
        list(read_intake_file(path))


def test_row_numbers_are_the_lines_a_spreadsheet_shows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [intake_row(), intake_row(id="2", parent1_email="nope")])
    results = list(read_intake_file(path))
    assert [result.row for result in results] == [2, 3]
    assert [str(problem) for problem in results[1].problems] == [
        "in.csv:3: parent1_email: value is not a valid email address: "
        "An email address must have an @-sign."
    ]


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [intake_row()])
    path.write_text(path.read_text(encoding="utf-8") + "\n,,,,,,,,,,,\n", encoding="utf-8")
    assert records_of(path) == ["Zoë de Vries"]


def test_more_cells_than_columns_is_a_row_problem(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [intake_row()])
    path.write_text(
        path.read_text(encoding="utf-8").rstrip("\r\n") + ",surplus\r\n", encoding="utf-8"
    )
    [result] = list(read_intake_file(path))
    assert result.record is None
    assert "more cells than the header" in str(result.problems[0])


def test_json_array_and_json_lines_are_read(tmp_path: Path) -> None:
    rows = [
        intake_row(),
        {**intake_row(id="2", child_name="Bo"), "professionals": ["Anna", "Joost"]},
    ]
    array = tmp_path / "in.json"
    array.write_text(json.dumps(rows), encoding="utf-8")
    lines = tmp_path / "in.jsonl"
    lines.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    assert records_of(array) == records_of(lines) == ["Zoë de Vries", "Bo"]


def test_json_with_unknown_key_names_it_on_its_row(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({**intake_row(), "kleur": "rood"}) + "\n", encoding="utf-8")
    [result] = list(read_intake_file(path))
    assert result.record is None
    assert [str(problem) for problem in result.problems] == [
        "in.jsonl:1: column: 'kleur' is not known; known columns: " + ", ".join(CANONICAL_COLUMNS)
    ]


def test_unknown_file_type_says_which_types_work(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(InputFileError, match=r"unknown file type '.xlsx'.*CSV UTF-8"):
        list(read_intake_file(path))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        list(read_intake_file(tmp_path / "missing.csv"))
