"""Reading intake files as staff really have them: CSV from Excel in UTF-8 (with or without BOM)
and Windows-1252, .xlsx written by a real spreadsheet library, JSON; and hostile files."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest

from mailer.errors import InputFileError
from mailer.intake import files
from mailer.intake.files import read_intake_file
from tests.conftest import future_date, intake_row, write_csv

# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


def records_of(path: Path, **options: str) -> list[str]:
    results = list(read_intake_file(path, **options))  # type: ignore[arg-type]
    assert all(result.record is not None for result in results), [r.problems for r in results]
    return [result.record.child_name for result in results if result.record]


def problems_of(path: Path) -> list[str]:
    return [str(problem) for result in read_intake_file(path) for problem in result.problems]


def write_xlsx(path: Path, rows: list[list[object]], sheet: str = "Intakes") -> Path:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = sheet
    for row in rows:
        first.append(row)
    workbook.save(path)
    return path


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


def test_windows_1252_csv_from_dutch_excel_is_read_and_the_notice_says_so(tmp_path: Path) -> None:
    rows = [intake_row(), intake_row(id="2", child_name="Anaïs Müller", parent1_name="Renée")]
    path = write_csv(tmp_path / "excel.csv", rows, ";", "cp1252")
    notices: list[str] = []
    results = list(read_intake_file(path, notices=notices))
    assert [r.record.child_name for r in results if r.record] == ["Zoë de Vries", "Anaïs Müller"]
    assert notices == [
        "excel.csv: the file is not UTF-8; it is read as Windows-1252, as Excel saves "
        "'CSV (gescheiden door lijstscheidingsteken)'"
    ]


def test_a_letter_lost_as_question_mark_is_a_warning_naming_the_row(tmp_path: Path) -> None:
    # Windows-1252 has no dotless ı: Excel writes "Y?lmaz".
    rows = [intake_row(), intake_row(id="2", parent1_name="Ayse Y?lmaz")]
    path = write_csv(tmp_path / "excel.csv", rows, ";", "cp1252")
    notices: list[str] = []
    assert len([r for r in read_intake_file(path, notices=notices) if r.record]) == 2
    assert notices[1:] == [
        "excel.csv:3: parent1_name: 'Ayse Y?lmaz' holds a '?' where a letter may have been "
        "lost when the file was saved; check the name"
    ]


def test_a_file_in_neither_encoding_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"naam_kind;groep\n\x81\x8d;x\n")
    with pytest.raises(InputFileError, match=r"odd.csv: the file is neither UTF-8 nor"):
        list(read_intake_file(path))


def test_headers_as_staff_write_them_are_read_after_folding_case_spaces_and_hyphens(
    tmp_path: Path,
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Naam Kind;Groep;LOCATIE;Datum;Tijd;Ouder 1 naam;Ouder 1 e-mail;Ouder_2-Naam;"
        "Pedagogisch professionals;Taal\n"
        f"Zoë;Dolfijnen;De Speeldoos;{future_date()};09:30 uur;Sanne;sanne@example.nl;Mark;"
        "Anna;Nederlands\n",
        encoding="utf-8",
    )
    [result] = list(read_intake_file(path))
    assert result.problems == ()
    assert result.record is not None
    assert result.record.parent1_email == "sanne@example.nl"
    assert result.record.greeted_names == ["Sanne", "Mark"]
    assert result.record.meeting_time == time(9, 30)


def test_unknown_column_is_named_as_written_with_a_suggestion(tmp_path: Path) -> None:
    good, bad = intake_row(), intake_row(id="2", child_name="")
    for row in (good, bad):
        row["ouder1_emial"] = row.pop("parent1_email")
    assert problems_of(write_csv(tmp_path / "in.csv", [good, bad])) == [
        "in.csv:1: ouder1_emial: 'ouder1_emial' is not a known column; "
        "did you mean 'ouder1_email'?",
        "in.csv:3: child_name: is empty",
    ]


def test_a_missing_column_is_reported_once_for_the_file(tmp_path: Path) -> None:
    rows = [intake_row(id=str(number)) for number in range(5)]
    for row in rows:
        del row["meeting_time"]
    assert problems_of(write_csv(tmp_path / "in.csv", rows)) == [
        "in.csv:1: tijd: the file has no such column; add it (the README lists the columns)"
    ]


def test_problems_name_the_column_as_the_file_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "naam_kind;groep;locatie;datum;tijd;Ouder 1 naam;Ouder 1 e-mail;pedagogisch_professionals\n"
        "Zoë;Dolfijnen;De Speeldoos;31-02-2027;9:30u;Sanne;sanne(at)example.nl;\n",
        encoding="utf-8",
    )
    assert problems_of(path) == [
        "in.csv:2: datum: '31-02-2027' does not exist: month 2 of 2027 has 28 days",
        "in.csv:2: Ouder 1 e-mail: 'sanne(at)example.nl' is not an e-mail address; "
        "write it as naam@voorbeeld.nl",
        "in.csv:2: pedagogisch_professionals: is empty; write the names separated by ';'",
    ]


def test_row_numbers_are_the_rows_a_spreadsheet_shows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [intake_row(), intake_row(id="2", parent1_email="x")])
    results = list(read_intake_file(path))
    assert [result.row for result in results] == [2, 3]
    assert [str(problem).split(": ")[0] for problem in results[1].problems] == ["in.csv:3"]


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


def test_xlsx_first_sheet_with_date_and_time_cells(tmp_path: Path) -> None:
    header = list(intake_row())
    day = date.today().replace(year=date.today().year + 1)
    row = list(intake_row(id="141").values())
    row[0], row[4], row[5] = 141, datetime.combine(day, time()), time(9, 30)
    path = write_xlsx(tmp_path / "intakes.xlsx", [header, row])
    [result] = list(read_intake_file(path))
    assert result.problems == ()
    assert result.record is not None
    assert (result.record.id, result.record.meeting_date) == ("141", day)
    assert result.record.meeting_time == time(9, 30)


def test_xlsx_other_sheet_by_name_and_a_missing_sheet_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "intakes.xlsx"
    workbook = openpyxl.Workbook()
    notes = workbook.active
    assert notes is not None
    notes.title = "Notities"
    notes.append(["niets"])
    sheet = workbook.create_sheet("Januari")
    sheet.append(list(intake_row()))
    sheet.append(list(intake_row(child_name="Bo").values()))
    workbook.save(path)
    assert records_of(path, sheet="Januari") == ["Bo"]
    with pytest.raises(InputFileError, match="there is no sheet 'Maart'; the sheets are: Notities"):
        list(read_intake_file(path, sheet="Maart"))


def test_a_damaged_spreadsheet_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputFileError, match=r"in.xlsx: the spreadsheet cannot be read"):
        list(read_intake_file(path))


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
    assert str(result.problems[0]).startswith("in.jsonl:1: kleur: 'kleur' is not a known column")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"naam_kind": "a", "naam_kind": "b"}]', "the key 'naam_kind' appears twice"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper than an intake file has"),
        ('[{"duur": ' + "9" * 5000 + "}]", "a number has more than 20 characters"),
        ('[{"duur": NaN}]', "'NaN' is not a value JSON allows"),
        ('[{"naam_kind": [[["x"]]]}]', "nested deeper than an intake file has"),
    ],
)
def test_hostile_json_is_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "in.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        InputFileError, match=r"in\.json:1: not a usable JSON intake file"
    ) as caught:
        list(read_intake_file(path))
    assert expected in str(caught.value)


def test_broken_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text('[\n{"naam_kind": "a",,}]', encoding="utf-8")
    with pytest.raises(InputFileError, match=r"in.json:2: not valid JSON near column \d+"):
        list(read_intake_file(path))


def test_a_header_with_a_million_columns_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{n}" for n in range(1000)) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="the header has 1000 columns; an intake file has"):
        list(read_intake_file(path))


def test_a_huge_line_is_refused_at_once(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [intake_row()])
    with path.open("a", encoding="utf-8") as handle:
        handle.write("x" * 200_000 + "\n")
    with pytest.raises(InputFileError, match=r"in.csv:3: the line holds more than 100000"):
        list(read_intake_file(path))


def test_a_huge_cell_is_a_problem_of_its_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [intake_row(group="x" * 20_000)])
    assert problems_of(path) == ["in.csv:2: group: holds more than 10000 characters"]


def test_a_file_above_the_size_limit_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1024 * 1024)
    path = tmp_path / "big.csv"
    path.write_bytes(b"\xff" * (2 * 1024 * 1024))  # not even text: it is never read
    with pytest.raises(InputFileError, match=r"big.csv: the file is 2 MB; at most 1 MB"):
        list(read_intake_file(path))


def test_unknown_file_type_says_which_types_work(tmp_path: Path) -> None:
    path = tmp_path / "in.docx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(InputFileError, match=r"unknown file type '.docx'; use .xlsx, .csv"):
        list(read_intake_file(path))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        list(read_intake_file(tmp_path / "missing.csv"))


def test_a_sheet_whose_header_starts_lower_down_keeps_the_rows_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "in.xlsx",
        [[], [], list(intake_row()), list(intake_row(parent1_email="x").values())],
    )
    assert problems_of(path) == [
        "in.xlsx:4: parent1_email: 'x' is not an e-mail address; write it as naam@voorbeeld.nl"
    ]


def test_a_json_record_without_a_field_names_it_on_its_row(tmp_path: Path) -> None:
    row = intake_row()
    del row["meeting_time"]
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(intake_row()) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    assert problems_of(path) == ["in.jsonl:2: tijd: is missing"]
