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

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")


def queue(run_cli: Run, path: Path, *options: str) -> tuple[int, str, str]:
    return run_cli("queue", str(path), "--by", "Coach", *options)


def stored_to(workspace: Workspace) -> list[list[str]]:
    outbox = open_outbox(workspace)
    return [to_addresses(outbox.read_bytes(m.id)) for m in outbox.messages()]


@pytest.mark.usefixtures("english")
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


@pytest.mark.usefixtures("english")
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


@pytest.mark.usefixtures("english")
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


@pytest.mark.usefixtures("english")
def test_a_row_repeated_in_the_file_names_the_row_it_repeats(tmp_path: Path, run_cli: Run) -> None:
    rows = [intake_row(id="7"), intake_row(id="8", child_name="Bo"), intake_row(id="7")]
    code, _, err = queue(run_cli, write_csv(tmp_path / "in.csv", rows))
    assert code == 1
    assert err.splitlines() == [
        "in.csv:4: id: repeats row 2; remove one of the two",
        "Nothing was queued: 1 invalid row; correct it and queue the file again.",
    ]


@pytest.mark.usefixtures("english")
def test_a_file_without_rows_says_there_is_nothing_to_queue(tmp_path: Path, run_cli: Run) -> None:
    header_only = write_csv(tmp_path / "in.csv", [])
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    for path in (header_only, empty):
        code, out, err = queue(run_cli, path)
        assert (code, err) == (0, "")
        assert out == "The file holds no rows: there is nothing to queue.\n"


@pytest.mark.usefixtures("english")
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


@pytest.mark.usefixtures("english")
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


@pytest.mark.usefixtures("english")
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


@pytest.mark.usefixtures("english")
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


@pytest.mark.usefixtures("english")
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


@pytest.mark.usefixtures("english")
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
