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
    assert "er is niets veranderd" in out
    assert settings.read_text(encoding="utf-8") == 'sender = "Mine <me@example.nl>"\n'


def test_command_outside_a_workspace_names_init(tmp_path: Path, run_cli: Run) -> None:
    code, _, err = run_cli("list", "--home", str(tmp_path), home=False)
    assert code == 1
    assert "is geen werkmap van mailer" in err
    assert "mailer init" in err
    assert "Traceback" not in err


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
    assert (code, out.strip()) == (0, f"{first} goedgekeurd door Anna")
    code, out, _ = run_cli("reject", second, "--reason", "wrong group", "--by", "Fatima")
    assert (code, out.strip()) == (0, f"{second} afgewezen door Fatima")
    states = {m["id"]: (m["state"], m["approved_by"]) for m in listed(run_cli)}
    assert states == {first: ("approved", "Anna"), second: ("rejected", None)}
    code, _, err = run_cli("approve", second, "--by", "Anna", "--unsigned-template")
    assert code == 1
    assert "kan niet van afgewezen naar goedgekeurd" in err


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
    assert "veranderd nadat hij werd goedgekeurd" in out


def test_four_eyes_from_the_environment(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_FOUR_EYES", "true")
    queue_rows(run_cli, tmp_path, intake_row())
    [message] = listed(run_cli)
    code, _, err = run_cli("approve", str(message["id"]), "--by", "coach", "--unsigned-template")
    assert code == 1
    assert "vier-ogenprincipe" in err


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
    assert err.strip() == "fout: zzzzzz: er is geen bericht met dit ID; `mailer list` toont ze"


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
    assert (result.returncode, result.stdout.strip()) == (0, "De outbox is leeg.")


def test_list_names_a_damaged_file_and_exits_1(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    queue_rows(run_cli, tmp_path, intake_row(), intake_row(id="PL-2", child_name="Daan"))
    [first] = [message for message in listed(run_cli) if message["child_name"] == "Zoë de Vries"]
    damage_metadata(Outbox(workspace.outbox_dir), str(first["id"]))
    code, out, err = run_cli("list")
    assert code == 1
    assert f"{first['id']}: de gegevens van dit bericht in de outbox zijn beschadigd" in err
    assert "Traceback" not in err
    assert "Daan" in out
