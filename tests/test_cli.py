"""The command line as a coach uses it, in real temporary workspaces."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailer.outbox.store import Outbox
from mailer.workspace import Workspace
from tests.conftest import intake_row, write_csv
from tests.tampering import damage_metadata, replace_message_keeping_approval

Run = Callable[..., tuple[int, str, str]]


def queue_rows(run_cli: Run, tmp_path: Path, *rows: dict[str, str]) -> tuple[int, str, str]:
    return run_cli("queue", str(write_csv(tmp_path / "intakes.csv", list(rows))), "--by", "Coach")


def listed(run_cli: Run) -> list[dict[str, object]]:
    code, out, _ = run_cli("list", "--json")
    assert code == 0
    result = json.loads(out)
    assert isinstance(result, list)
    return result


def test_init_creates_a_workspace_and_never_overwrites(tmp_path: Path, run_cli: Run) -> None:
    target = tmp_path / "new"
    code, out, _ = run_cli("init", str(target), home=False)
    assert code == 0
    settings = target / "config" / "settings.toml"
    assert settings.is_file()
    assert (target / "templates" / "nl" / "letter.html.j2").is_file()
    settings.write_text('sender = "Mine <me@example.nl>"\n', encoding="utf-8")
    code, out, _ = run_cli("init", str(target), home=False)
    assert code == 0
    assert "nothing was changed" in out
    assert settings.read_text(encoding="utf-8") == 'sender = "Mine <me@example.nl>"\n'


def test_command_outside_a_workspace_names_init(tmp_path: Path, run_cli: Run) -> None:
    code, _, err = run_cli("list", "--home", str(tmp_path), home=False)
    assert code == 1
    assert "is not a mailer workspace" in err
    assert "mailer init" in err
    assert "Traceback" not in err


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


def test_list_json_has_the_promised_fields(tmp_path: Path, run_cli: Run) -> None:
    queue_rows(run_cli, tmp_path, intake_row())
    [message] = listed(run_cli)
    assert set(message) >= {
        "id", "state", "to", "subject", "child_name", "meeting_at",
        "queued_by", "approved_by", "last_error",
    }  # fmt: skip
    assert message["state"] == "pending"
    assert message["to"] == ["sanne@example.nl", "mark@example.nl"]
    assert message["child_name"] == "Zoë de Vries"
    assert message["queued_by"] == "Coach"
    assert message["approved_by"] is None
    assert str(message["meeting_at"])[-6:] in {"+01:00", "+02:00"}


def test_approve_and_reject_by_name(tmp_path: Path, run_cli: Run) -> None:
    queue_rows(run_cli, tmp_path, intake_row(id="1"), intake_row(id="2", child_name="Bo"))
    first, second = (str(m["id"]) for m in listed(run_cli))
    code, out, _ = run_cli("approve", first[:4], "--by", "Anna", "--unsigned-template")
    assert (code, out.strip()) == (0, f"approved {first} by Anna")
    code, out, _ = run_cli("reject", second, "--reason", "wrong group", "--by", "Fatima")
    assert (code, out.strip()) == (0, f"rejected {second} by Fatima")
    states = {m["id"]: (m["state"], m["approved_by"]) for m in listed(run_cli)}
    assert states == {first: ("approved", "Anna"), second: ("rejected", None)}
    code, _, err = run_cli("approve", second, "--by", "Anna", "--unsigned-template")
    assert code == 1
    assert "cannot go from rejected to approved" in err


def test_approve_all_asks_for_yes_without_a_terminal(tmp_path: Path, run_cli: Run) -> None:
    queue_rows(run_cli, tmp_path, intake_row(id="1"), intake_row(id="2", child_name="Bo"))
    code, _, err = run_cli("approve", "--all", "--by", "Anna", "--unsigned-template")
    assert code == 2
    assert "--yes" in err
    code, _out, _ = run_cli("approve", "--all", "--yes", "--by", "Anna", "--unsigned-template")
    assert code == 0
    assert [m["state"] for m in listed(run_cli)] == ["approved", "approved"]


def test_changed_message_after_approval_shows_why(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    queue_rows(run_cli, tmp_path, intake_row())
    [message] = listed(run_cli)
    run_cli("approve", str(message["id"]), "--by", "Anna", "--unsigned-template")
    outbox = Outbox(workspace.outbox_dir)
    data = outbox.read_bytes(str(message["id"]))
    replace_message_keeping_approval(
        outbox, str(message["id"]), data.replace(b"Dolfijnen", b"Zeepaardjes")
    )
    [after] = listed(run_cli)
    assert "changed after it was approved" in " ".join(after["problems"])  # type: ignore[arg-type]
    _code, out, _ = run_cli("list")
    assert "changed after it was approved" in out


def test_four_eyes_from_the_environment(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_FOUR_EYES", "true")
    queue_rows(run_cli, tmp_path, intake_row())
    [message] = listed(run_cli)
    code, _, err = run_cli("approve", str(message["id"]), "--by", "coach", "--unsigned-template")
    assert code == 1
    assert "four eyes" in err


def test_non_ascii_names_survive_in_headers_and_bodies(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    queue_rows(
        run_cli,
        tmp_path,
        intake_row(
            child_name="Đorđe", parent1_name="Zoë", parent2_name="Ümit", professionals="Anaïs"
        ),
    )
    [message] = listed(run_cli)
    raw = Outbox(workspace.outbox_dir).read_bytes(str(message["id"]))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert [a.display_name for a in parsed["To"].addresses] == ["Zoë", "Ümit"]
    assert "Đorđe" in str(parsed["Subject"])
    for kind in ("plain", "html"):
        body = parsed.get_body((kind,))
        assert isinstance(body, EmailMessage)
        content = body.get_content()
        assert all(name in content for name in ("Zoë", "Ümit", "Đorđe", "Anaïs"))


def test_markup_in_a_name_is_escaped_in_html_only(tmp_path: Path, run_cli: Run) -> None:
    queue_rows(run_cli, tmp_path, intake_row(child_name="<b>Bo</b>"))
    [message] = listed(run_cli)
    code, text, _ = run_cli("show", str(message["id"]), "--text")
    assert code == 0
    assert "<b>Bo</b>" in text
    code, raw, _ = run_cli("show", str(message["id"]), "--raw")
    parsed = message_from_bytes(raw.encode("utf-8"), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    html = parsed.get_body(("html",))
    assert isinstance(html, EmailMessage)
    assert "&lt;b&gt;Bo&lt;/b&gt;" in html.get_content()
    assert "<b>Bo</b>" not in html.get_content()


def test_show_html_writes_a_private_file(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    queue_rows(run_cli, tmp_path, intake_row())
    [message] = listed(run_cli)
    code, _out, _ = run_cli("show", str(message["id"]), "--html")
    assert code == 0
    written = workspace.outbox_dir / "previews" / f"{message['id']}.html"
    assert "Zoë de Vries" in written.read_text(encoding="utf-8")
    assert written.stat().st_mode & 0o077 == 0


def test_unknown_id_is_one_line(run_cli: Run) -> None:
    code, _, err = run_cli("show", "zzzzzz")
    assert code == 1
    assert err.strip() == "error: zzzzzz: no message with this ID; `mailer list` shows them"


def test_usage_error_exits_2(run_cli: Run) -> None:
    code, _, err = run_cli("approve", "abc")
    assert code == 2
    assert "--by" in err


def test_python_dash_m_runs_the_same_cli(workspace: Workspace) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mailer", "list", "--home", str(workspace.root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "The outbox is empty.")


def test_list_names_a_damaged_file_and_exits_1(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    queue_rows(run_cli, tmp_path, intake_row(), intake_row(id="PL-2", child_name="Daan"))
    [first] = [message for message in listed(run_cli) if message["child_name"] == "Zoë de Vries"]
    damage_metadata(Outbox(workspace.outbox_dir), str(first["id"]))
    code, out, err = run_cli("list")
    assert code == 1
    assert f"{first['id']}: the outbox's record of this message is damaged" in err
    assert "Traceback" not in err
    assert "Daan" in out


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
