"""`mailer queue` as staff run it: whole files or nothing, counts per outcome in row order, the
files they really have, and addresses that are sent exactly as validated."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import time
from email import message_from_bytes, policy
from pathlib import Path

import openpyxl
import pytest

from mailer.sending.claims import to_addresses
from mailer.workspace import Workspace
from tests.conftest import future_date, intake_row, open_outbox, write_csv
from tests.smtp_servers import RecordingHandler, approved_outbox, smtp_env, smtp_server
from tests.test_cli import listed, queue_rows

Run = Callable[..., tuple[int, str, str]]


# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


def queue(run_cli: Run, path: Path, *options: str) -> tuple[int, str, str]:
    return run_cli("queue", str(path), "--by", "Coach", *options)


def stored_to(workspace: Workspace) -> list[list[str]]:
    outbox = open_outbox(workspace)
    return [to_addresses(outbox.read_bytes(m.id)) for m in outbox.messages()]


def test_the_families_that_broke_queueing_get_their_letter(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    rows = [
        intake_row(
            id="1",
            child_name="Noor van den Heuvel-Brouwer",
            parent1_name="Rachid van den Heuvel-Brouwer",
            parent1_email="rachid.vandenheuvelbrouwer.1689@example.net",
            parent2_name="Youssef Yılmaz",
            parent2_email="youssef.yilmaz.vandenheuvelbrouwer.1689b@example.org",
        ),
        intake_row(
            id="2",
            parent1_name="Hélène",
            parent1_email="helene.vandenheuvelbrouwer.1689@example.net",
            parent2_name="Anaïs",
            parent2_email="anais.vandenheuvelbrouwer.1689b@example.org",
        ),
    ]
    code, out, err = queue(run_cli, write_csv(tmp_path / "in.csv", rows))
    assert (code, err) == (0, "")
    assert "2 queued, 0 updated, 0 unchanged, 0 invalid rows." in out
    assert stored_to(workspace) == [
        [rows[0]["parent1_email"], rows[0]["parent2_email"]],
        [rows[1]["parent1_email"], rows[1]["parent2_email"]],
    ]


def test_a_parent_without_address_is_greeted_and_not_mailed(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    row = intake_row(parent2_name="Mark Jansen", parent2_email="")
    assert queue(run_cli, write_csv(tmp_path / "in.csv", [row]))[0] == 0
    outbox = open_outbox(workspace)
    [message] = outbox.messages()
    data = outbox.read_bytes(message.id)
    assert to_addresses(data) == ["sanne@example.nl"]
    parsed = message_from_bytes(data, policy=policy.default)
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None
    assert "Beste Sanne en Mark Jansen," in text.get_content()


def test_outcomes_are_counted_and_shown_in_row_order(tmp_path: Path, run_cli: Run) -> None:
    first = [intake_row(id="1"), intake_row(id="2", child_name="Bo"), intake_row(id="3")]
    path = write_csv(tmp_path / "in.csv", first)
    assert queue(run_cli, path)[0] == 0
    again = [
        intake_row(id="1"),
        intake_row(id="2", child_name="Bo", meeting_time="15:00"),
        intake_row(id="9", parent1_email="nope"),
        intake_row(id="4", child_name="Liam"),
        intake_row(id="3"),
    ]
    code, out, err = queue(run_cli, write_csv(path, again), "--skip-invalid")
    assert code == 1
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["row 2", "row 3", "row 5", "row 6"]
    assert "for Bo was not sent yet and now holds the changed record" in lines[1]
    assert " queued " in lines[2] and "Liam" in lines[2]
    assert lines[-1] == (
        "1 queued, 1 updated, 2 unchanged, 1 invalid row. "
        "Review them with `mailer list` and `mailer show ID`."
    )
    assert err.startswith("in.csv:4: parent1_email: 'nope' is not an e-mail address")


def test_a_row_repeated_in_the_file_names_the_row_it_repeats(tmp_path: Path, run_cli: Run) -> None:
    rows = [intake_row(id="7"), intake_row(id="8", child_name="Bo"), intake_row(id="7")]
    code, _, err = queue(run_cli, write_csv(tmp_path / "in.csv", rows))
    assert code == 1
    assert err.splitlines() == [
        "in.csv:4: id: repeats row 2; remove one of the two",
        "Nothing was queued: 1 invalid row; correct it and queue the file again.",
    ]


def test_a_file_without_rows_says_there_is_nothing_to_queue(tmp_path: Path, run_cli: Run) -> None:
    header_only = write_csv(tmp_path / "in.csv", [])
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    for path in (header_only, empty):
        code, out, err = queue(run_cli, path)
        assert (code, err) == (0, "")
        assert out == "The file holds no rows: there is nothing to queue.\n"


def test_only_the_first_hundred_problems_are_printed_with_the_total(
    tmp_path: Path, run_cli: Run
) -> None:
    rows = [intake_row(id=str(n), parent1_email=f"bad{n}") for n in range(150)]
    code, out, err = queue(run_cli, write_csv(tmp_path / "in.csv", rows))
    lines = err.splitlines()
    assert code == 1 and out == ""
    assert len(lines) == 102
    assert lines[100] == "... and 50 more problems (only the first 100 are shown)"
    assert (
        lines[101] == "Nothing was queued: 150 invalid rows; correct them and queue the file again."
    )


def test_dutch_excel_csv_is_queued_and_the_output_says_how_it_was_read(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    path = write_csv(tmp_path / "excel.csv", [intake_row(child_name="Zoë Müller")], ";", "cp1252")
    code, out, err = queue(run_cli, path)
    assert code == 0
    assert "it is read as Windows-1252" in err
    assert "Zoë Müller" in out
    [message] = open_outbox(workspace).messages()
    assert message.child_name == "Zoë Müller"


def test_an_xlsx_file_is_queued_directly(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Naam kind", "Groep", "Locatie", "Datum", "Tijd", "Ouder 1 naam",
                  "Ouder 1 e-mail", "Pedagogisch professionals", "Taal"])  # fmt: skip
    sheet.append(["Zoë", "Dolfijnen", "De Speeldoos", future_date(), time(9, 30), "Sanne",
                  "sanne@example.nl", "Anna", "Engels"])  # fmt: skip
    path = tmp_path / "intakes.xlsx"
    workbook.save(path)
    code, out, err = queue(run_cli, path, "--json")
    assert (code, err) == (0, "")
    [message] = open_outbox(workspace).messages()
    assert json.loads(out)["queued"] == [message.id]
    assert (message.language, f"{message.meeting_at:%H:%M}") == ("en", "09:30")


def test_a_header_only_problem_is_not_called_an_invalid_row(tmp_path: Path, run_cli: Run) -> None:
    row = {**intake_row(), "kleur": "rood"}
    code, _, err = queue(run_cli, write_csv(tmp_path / "in.csv", [row]))
    assert code == 1
    assert err.splitlines()[-1] == (
        "Nothing was queued: the header row has a problem; correct it and queue the file again."
    )


def test_staff_read_the_queue_output_in_dutch_by_default(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILER_UI_LANGUAGE", raising=False)
    rows = [intake_row(id="1"), intake_row(id="2", meeting_date="31-02-2027")]
    code, _, err = queue(run_cli, write_csv(tmp_path / "in.csv", rows))
    assert code == 1
    assert err.splitlines() == [
        "in.csv:3: meeting_date: '31-02-2027' bestaat niet: maand 2 van 2027 heeft 28 dagen",
        "Er is niets klaargezet: 1 ongeldige rij; verbeter die en zet het bestand opnieuw klaar.",
    ]
    code, out, _ = queue(run_cli, write_csv(tmp_path / "in.csv", rows[:1]))
    assert code == 0
    assert out.splitlines()[-1].startswith("1 klaargezet, 0 bijgewerkt, 0 ongewijzigd, 0 ongeldige")


def test_queue_json_speaks_english_for_scripts_whatever_staff_read(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILER_UI_LANGUAGE", raising=False)  # Dutch for people
    rows = [intake_row(id="1"), intake_row(id="2", meeting_date="31-02-2027")]
    path = write_csv(tmp_path / "in.csv", rows)
    code, out, _ = queue(run_cli, path, "--json", "--skip-invalid")
    assert code == 1
    assert json.loads(out)["problems"] == [
        "in.csv:3: meeting_date: '31-02-2027' does not exist: month 2 of 2027 has 28 days"
    ]


def test_an_internationalised_domain_is_sent_in_ascii_in_header_and_envelope(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_outbox(workspace, 1, emails=[["ouder@bücher.example", "tweede@例え.jp"]])
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        for name, value in smtp_env(server).items():
            monkeypatch.setenv(name, value)
        code, _, err = run_cli("send", "--yes")
    assert code == 0, err
    [arrival] = handler.arrivals
    expected = ["ouder@xn--bcher-kva.example", "tweede@xn--r8jz45g.jp"]
    assert arrival.rcpt_tos == expected
    parsed = message_from_bytes(arrival.content, policy=policy.default)
    assert [address.addr_spec for address in parsed["To"].addresses] == expected


def test_a_look_alike_or_wrapped_address_is_refused_before_anything_is_queued(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    rows = [
        intake_row(id="1"),
        intake_row(id="2", parent1_email='"juf@school.example" <other@elsewhere.example>'),
        intake_row(id="3", parent1_email="ouder@exаmple.com"),
        intake_row(id="4", parent1_email="jürgen@example.nl"),
    ]
    code, _, err = queue(run_cli, write_csv(tmp_path / "in.csv", rows), "--skip-invalid")
    assert code == 1
    assert [line.split(": ")[0] for line in err.splitlines()] == [
        "in.csv:3", "in.csv:4", "in.csv:5",
    ]  # fmt: skip
    assert stored_to(workspace) == [["sanne@example.nl", "mark@example.nl"]]


def test_bad_rows_are_each_reported_and_nothing_is_queued(tmp_path: Path, run_cli: Run) -> None:
    code, _, err = queue_rows(
        run_cli,
        tmp_path,
        intake_row(id="1"),
        intake_row(id="2", parent1_email="sanne.example.nl"),
        intake_row(id="3", child_name=""),
        intake_row(id="4", parent1_name="Sanne\nBcc: evil@example.org"),
        intake_row(id="5", child_name="=?utf-8?q?a=0D=0ABcc:_evil@example.org?="),
        intake_row(id="6", meeting_date="2020-01-10"),
    )
    assert code == 1
    lines = err.strip().splitlines()
    assert [line.split(": ")[0:2] for line in lines[:-1]] == [
        ["intakes.csv:3", "parent1_email"],
        ["intakes.csv:4", "child_name"],
        ["intakes.csv:5", "parent1_name"],
        ["intakes.csv:6", "child_name"],
        ["intakes.csv:7", "meeting_date"],
    ]
    assert lines[-1].startswith("Nothing was queued: 5 invalid rows")
    assert listed(run_cli) == []


def test_misspelt_column_is_one_line_naming_the_header(tmp_path: Path, run_cli: Run) -> None:
    row = intake_row()
    row["ouder1_emial"] = row.pop("parent1_email")
    code, _, err = run_cli("queue", str(write_csv(tmp_path / "typo.csv", [row])))
    assert code == 1
    assert err.strip().splitlines() == [
        "typo.csv:1: ouder1_emial: 'ouder1_emial' is not a known column; "
        "did you mean 'ouder1_email'?",
        "Nothing was queued: the header row has a problem; correct it and queue the file again.",
    ]
    assert listed(run_cli) == []


def test_a_misspelt_column_shows_every_other_problem_too_and_skip_invalid_queues_nothing(
    tmp_path: Path, run_cli: Run
) -> None:
    rows = [intake_row(id="1"), intake_row(id="2", meeting_date="2020-01-10")]
    for row in rows:
        row["ouder1_emial"] = row.pop("parent1_email")
    path = write_csv(tmp_path / "typo.csv", rows)
    for extra in ([], ["--skip-invalid"]):
        code, _, err = run_cli("queue", str(path), *extra)
        assert code == 1
        assert "typo.csv:1: ouder1_emial: 'ouder1_emial' is not a known column" in err
        assert "typo.csv:3: meeting_date: the meeting" in err
    assert listed(run_cli) == []


def test_skip_invalid_queues_the_good_rows_and_still_exits_1(tmp_path: Path, run_cli: Run) -> None:
    code, out, err = queue_rows(
        run_cli, tmp_path, intake_row(id="1"), intake_row(id="2", parent1_email="x")
    )
    assert code == 1
    assert "Nothing was queued" in err
    code, out, err = run_cli(
        "queue", str(tmp_path / "intakes.csv"), "--skip-invalid", "--by", "Coach"
    )
    assert code == 1
    assert "intakes.csv:3: parent1_email" in err
    assert "1 queued" in out
    assert len(listed(run_cli)) == 1


def test_queueing_the_same_file_twice_makes_no_second_message(tmp_path: Path, run_cli: Run) -> None:
    rows = [intake_row(id="1"), intake_row(id="2", child_name="Bo")]
    assert queue_rows(run_cli, tmp_path, *rows)[0] == 0
    code, out, _ = queue_rows(run_cli, tmp_path, *rows)
    assert code == 0
    ids = sorted(str(message["id"]) for message in listed(run_cli))
    assert len(ids) == 2
    assert "0 queued, 0 updated, 2 unchanged, 0 invalid rows." in out
    assert all(f"{message_id} for " in out for message_id in ids)


def test_unknown_location_is_a_row_problem_with_a_suggestion(tmp_path: Path, run_cli: Run) -> None:
    code, _, err = queue_rows(run_cli, tmp_path, intake_row(location="De Speeldoos Zud"))
    assert code == 1
    assert err.splitlines()[0] == (
        "intakes.csv:2: location: 'De Speeldoos Zud' is not a location in config/settings.toml; "
        "did you mean 'De Speeldoos Zuid'? add it as [locations.\"De Speeldoos Zud\"] with its "
        "address"
    )
    assert listed(run_cli) == []


def test_a_row_whose_letter_cannot_be_made_queues_nothing_of_the_file(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    # A letter that only one record trips over: found while queueing, after the rows before
    # it were already added in the file's transaction.
    template = workspace.templates_dir / "nl" / "letter.txt.j2"
    template.write_text(
        template.read_text(encoding="utf-8")
        + '{% if child_name == "Daan" %}{{ not_a_field }}{% endif %}\n',
        encoding="utf-8",
    )
    rows = [intake_row(), intake_row(id="PL-2", child_name="Daan"), intake_row(id="PL-3")]
    code, out, err = queue_rows(run_cli, tmp_path, *rows)
    assert code == 1
    assert "intakes.csv:3: letter:" in err and "not_a_field" in err
    assert "Nothing was queued" in err
    assert "queued " not in out
    assert listed(run_cli) == []
    code, _, err = run_cli(
        "queue", str(tmp_path / "intakes.csv"), "--skip-invalid", "--by", "Coach"
    )
    assert code == 1 and "intakes.csv:3: letter:" in err
    assert sorted(m["child_name"] for m in listed(run_cli)) == ["Zoë de Vries", "Zoë de Vries"]
