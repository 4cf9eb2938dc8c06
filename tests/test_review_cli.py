"""Approval that cannot be gamed, through the command line: four eyes over everyone who made or
changed a letter, a changed message approved only as the version that was read, names compared
as people read them, and sending only what the journal says was approved."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import update

from mailer.clock import now_in_amsterdam
from mailer.letters.template_signoff import sign_off
from mailer.outbox.schema import messages
from mailer.outbox.store import Approval, State
from mailer.workspace import Workspace
from tests.conftest import intake_row, open_outbox, write_csv
from tests.smtp_servers import RecordingHandler, smtp_env, smtp_server

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch, workspace: Workspace) -> None:
    """These tests read the English wording; the templates are signed off by the team."""
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")
    sign_off(workspace, "Team")


def queue_as(run_cli: Run, tmp_path: Path, by: str, **fields: str) -> str:
    """Queue the record PL-1 (again) as `by`; return the ID of the outbox's one message."""
    path = write_csv(tmp_path / f"intakes-{by}.csv", [intake_row(**fields)])
    code, _, err = run_cli("queue", str(path), "--by", by)
    assert code == 0, err
    [message] = json.loads(run_cli("list", "--json")[1])
    return str(message["id"])


def version_of(run_cli: Run, message_id: str) -> str:
    code, out, _ = run_cli("show", message_id)
    assert code == 0
    found = re.search(r"^Version:\s+([0-9a-f]{8}) ", out, re.MULTILINE)
    assert found, out
    return found.group(1)


def state_of(workspace: Workspace, message_id: str) -> State:
    return open_outbox(workspace).load(message_id).state


def test_four_eyes_refuses_whoever_queued_the_record_again_with_changes(
    tmp_path: Path, run_cli: Run, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_FOUR_EYES", "true")
    message_id = queue_as(run_cli, tmp_path, "Alice")
    assert queue_as(run_cli, tmp_path, "Bob", meeting_time="15:30") == message_id
    for person in ("Bob", "ＢＯＢ", "Alice"):
        code, out, err = run_cli("approve", message_id, "--by", person)
        assert code == 1 and "four eyes" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    assert state_of(workspace, message_id) == State.PENDING
    code_now = version_of(run_cli, message_id)
    code, _, err = run_cli("approve", f"{message_id}@{code_now}", "--by", "Bob")
    assert code == 1 and "Bob changed this message" in err
    code, out, _ = run_cli("approve", f"{message_id}@{code_now}", "--by", "Carol")
    assert code == 0 and f"approved {message_id} by Carol" in out


def test_a_message_changed_after_it_was_queued_is_approved_only_as_the_version_read(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    message_id = queue_as(run_cli, tmp_path, "Alice")
    [first] = json.loads(run_cli("list", "--json")[1])
    seen = str(first["sha256"])[:8]  # the version code `show` prints
    queue_as(run_cli, tmp_path, "Alice", parent1_email="someone.else@example.org")
    code, _, err = run_cli("approve", message_id, "--by", "Carol")
    assert code == 1
    assert err.strip().splitlines() == [
        f"{message_id}: changed after it was first queued; run `mailer show {message_id}` and "
        f"approve it as `mailer approve {message_id}@CODE` with the version code shown there"
    ]
    code, _, err = run_cli("approve", f"{message_id}@{seen}", "--by", "Carol")
    assert code == 1 and "changed after you looked at it" in err
    assert state_of(workspace, message_id) == State.PENDING
    code, _, err = run_cli("approve", f"{message_id}@zz", "--by", "Carol")
    assert code == 1 and "version code of 8 characters" in err
    current = version_of(run_cli, message_id)
    assert current not in {seen, ""}
    code, out, _ = run_cli("approve", f"{message_id}@{current.upper()}", "--by", "Carol")
    assert code == 0 and f"approved {message_id} by Carol" in out
    assert open_outbox(workspace).load(message_id).to[0] == "someone.else@example.org"


def test_a_message_never_changed_is_approved_by_its_id_alone(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    message_id = queue_as(run_cli, tmp_path, "Alice")
    code, out, err = run_cli("approve", message_id, "--by", "Carol")
    assert (code, err) == (0, "")
    assert out.strip() == f"approved {message_id} by Carol"
    [summary] = json.loads(run_cli("list", "--json")[1])
    assert summary["version_code"] == summary["sha256"][:8]


def test_approve_all_leaves_changed_messages_and_says_how_many_and_why(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    rows = [intake_row(id="PL-1"), intake_row(id="PL-2", parent1_email="b@example.nl")]
    code, _, _ = run_cli("queue", str(write_csv(tmp_path / "a.csv", rows)), "--by", "Alice")
    assert code == 0
    rows[1]["parent1_email"] = "other@example.org"
    code, _, _ = run_cli("queue", str(write_csv(tmp_path / "b.csv", rows)), "--by", "Alice")
    assert code == 0
    listed = {m["to"][0]: m["id"] for m in json.loads(run_cli("list", "--json")[1])}
    kept, changed = listed["sanne@example.nl"], listed["other@example.org"]
    code, out, err = run_cli("approve", "--all", "--yes", "--by", "Carol")
    assert code == 1
    assert out.strip() == f"approved {kept} by Carol"
    assert err.strip().splitlines() == [
        f"1 message was left pending because it changed after it was first queued ({changed}): "
        "read it with `mailer show ID` and approve it as `mailer approve ID@CODE`"
    ]
    assert state_of(workspace, changed) == State.PENDING


def _on_a_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run `mailer ARGS` on a pseudo-terminal, answer its question; return (exit code, screen)."""
    main_fd, terminal_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", *args],
        stdin=terminal_fd,
        stdout=terminal_fd,
        stderr=terminal_fd,
        env={**os.environ, "MAILER_UI_LANGUAGE": "en"},
    )
    os.close(terminal_fd)
    screen = b""
    answered = False
    try:
        while True:
            ready, _, _ = select.select([main_fd], [], [], 60)
            assert ready, f"no output: {screen!r}"
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:  # the program ended and closed the terminal
                break
            if not chunk:
                break
            screen += chunk
            if not answered and b"[y/N]" in screen:
                os.write(main_fd, answer)
                answered = True
    finally:
        os.close(main_fd)
    return process.wait(timeout=60), screen.decode("utf-8", "replace")


def test_on_a_terminal_a_changed_message_is_approved_after_its_recipients_were_shown(
    tmp_path: Path, run_cli: Run, workspace: Workspace
) -> None:
    message_id = queue_as(run_cli, tmp_path, "Alice")
    queue_as(run_cli, tmp_path, "Bob", parent1_email="someone.else@example.org")
    home = ["--home", str(workspace.root)]
    code, screen = _on_a_terminal(["approve", message_id, "--by", "Carol", *home], b"n\n")
    assert code == 1 and "someone.else@example.org" in screen
    assert state_of(workspace, message_id) == State.PENDING
    code, screen = _on_a_terminal(["approve", message_id, "--by", "Carol", *home], b"y\n")
    assert code == 0, screen
    assert "made or changed by Alice, Bob" in screen
    assert "someone.else@example.org" in screen and f"approved {message_id} by Carol" in screen
    assert state_of(workspace, message_id) == State.APPROVED


def test_a_name_that_mixes_alphabets_is_refused_and_names_compare_as_read(
    tmp_path: Path, run_cli: Run, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_FOUR_EYES", "true")
    message_id = queue_as(run_cli, tmp_path, "Anna")
    code, _, err = run_cli("approve", message_id, "--by", "\u0410nna")  # Cyrillic А
    assert code == 1 and "mixes letters of different alphabets" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run_cli("approve", message_id, "--by", "ａｎｎａ")  # full-width
    assert code == 1 and "four eyes" in err
    code, out, _ = run_cli("approve", message_id, "--by", "Ζωή")  # one alphabet: fine
    assert code == 0 and "by Ζωή" in out


def test_send_refuses_an_approval_the_journal_does_not_hold(
    tmp_path: Path, run_cli: Run, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_id = queue_as(run_cli, tmp_path, "Alice")
    outbox = open_outbox(workspace)
    stored = outbox.load(message_id, with_history=False)
    forged = stored.model_copy(
        update={
            "state": State.APPROVED,
            "approval": Approval(by="Anna", at=now_in_amsterdam(), sha256=stored.sha256),
        }
    )
    with outbox.engine.begin() as connection:  # a hand edit of the database, no journal line
        connection.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(state="approved", document=forged.model_dump_json(exclude={"history"}))
        )
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        for name, value in smtp_env(server).items():
            monkeypatch.setenv(name, value)
        code, out, err = run_cli("send", "--yes")
    assert handler.arrivals == []
    assert code == 1 and "not in the journal" in out + err
    assert state_of(workspace, message_id) == State.APPROVED
