"""The sending commands as staff run them: send, check, resolve, log, smtp-server (purge: see
test_purge)."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer.outbox.store import Outbox, State
from mailer.sending.local_server import free_port, read_received
from mailer.workspace import Workspace
from tests.provider_servers import ProviderHandler, provider_server
from tests.smtp_servers import (
    PASSWORD,
    USER,
    RecordingHandler,
    approved_outbox,
    authenticator,
    make_certificates,
    smtp_env,
    smtp_server,
)
from tests.tampering import overwrite_stored_bytes

Run = Callable[..., tuple[int, str, str]]


# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


def point_at(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_dry_run_opens_no_connection(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = approved_outbox(workspace, 2)
    # Nothing listens on this port: a real send would fail, a dry run must not notice.
    point_at(monkeypatch, {"MAILER_SMTP_PORT": str(free_port()), "MAILER_SMTP_SECURITY": "none"})
    code, out, _ = run_cli("send", "--dry-run")
    assert code == 0
    assert "Would send 2 messages" in out and "no connection was opened" in out
    assert all(message_id in out for message_id in ids)
    outbox = Outbox(workspace.outbox_dir)
    assert {outbox.load(message_id).state for message_id in ids} == {State.APPROVED}


def test_send_without_terminal_needs_yes(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_outbox(workspace, 1)
    with smtp_server(RecordingHandler()) as server:
        point_at(monkeypatch, smtp_env(server))
        code, _, err = run_cli("send")
    assert code == 2 and "--yes" in err


def test_send_reports_every_outcome_on_one_summary_line(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_outbox(workspace, 3)
    handler = RecordingHandler(
        rcpt_replies={
            "ouder1@example.nl": "550 5.1.1 User unknown",
            "ouder2@example.nl": "451 4.3.0 Try later",
        }
    )
    with smtp_server(handler) as server:
        point_at(monkeypatch, smtp_env(server))
        code, out, _ = run_cli("send", "--yes")
    assert code == 1
    assert out.strip().splitlines()[-1] == "1 sent, 1 deferred, 1 failed, 0 unknown, 0 skipped."
    assert "550 5.1.1 User unknown" in out and "will retry" in out


def test_unknown_message_is_resolved_by_a_person(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    with smtp_server(RecordingHandler(drop_after_data=True)) as server:
        point_at(monkeypatch, smtp_env(server))
        code, out, _ = run_cli("send", "--yes")
    assert code == 1 and "0 sent, 0 deferred, 0 failed, 1 unknown" in out
    code, _, err = run_cli("resolve", message_id[:4], "--by", "Anna")
    assert code == 2 and "--sent or --resend" in err
    code, out, _ = run_cli("resolve", message_id[:4], "--resend", "--by", "Anna")
    assert code == 0 and "same Message-ID" in out
    good = RecordingHandler()
    with smtp_server(good) as server:
        point_at(monkeypatch, smtp_env(server))
        code, out, _ = run_cli("send", "--yes")
    assert code == 0 and out.strip().endswith("1 sent, 0 deferred, 0 failed, 0 unknown, 0 skipped.")
    code, out, _ = run_cli("log", message_id)
    assert code == 0
    for change in ("approved -> sending", "sending -> unknown", "unknown -> approved"):
        assert change in out
    code, out, _ = run_cli("resolve", message_id, "--sent", "--by", "Anna")
    assert code == 1  # already sent: one clear line, no traceback
    assert "Traceback" not in out


def test_wrong_password_never_appears_in_any_output(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    approved_outbox(workspace, 1)
    certificates = make_certificates(tmp_path)
    secret = "Sup3r-geheim-wachtwoord"
    with smtp_server(
        RecordingHandler(),
        tls_context=certificates.server_context(),
        require_starttls=True,
        authenticator=authenticator,
    ) as server:
        point_at(
            monkeypatch,
            smtp_env(
                server,
                MAILER_SMTP_SECURITY="starttls",
                MAILER_SMTP_CA_FILE=str(certificates.ca_file),
                MAILER_SMTP_USERNAME=USER,
                MAILER_SMTP_PASSWORD=secret,
            ),
        )
        outputs = [run_cli("check"), run_cli("check", "--smtp"), run_cli("send", "--yes")]
        point_at(monkeypatch, {"MAILER_SMTP_PASSWORD": PASSWORD})
        good = run_cli("check", "--smtp")
    for _, out, err in outputs:
        assert secret not in out and secret not in err
    assert outputs[0][0] == 0 and "password set" in outputs[0][1]
    assert outputs[1][0] == 1 and "login as 'intake' refused" in outputs[1][2]
    assert outputs[2][0] == 1 and "Stopped:" in outputs[2][2]
    assert len(outputs[1][2].strip().splitlines()) == 1
    assert good[0] == 0 and "logged in; nothing was sent" in good[1]
    stored = b"".join(path.read_bytes() for path in workspace.outbox_dir.glob("outbox.sqlite3*"))
    assert stored and secret.encode() not in stored


def test_plaintext_to_a_remote_host_is_refused_before_anything_happens(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_outbox(workspace, 1)
    point_at(monkeypatch, {"MAILER_SMTP_HOST": "mail.example.nl", "MAILER_SMTP_SECURITY": "none"})
    for args in (("check",), ("send", "--yes"), ("send", "--dry-run")):
        code, _, err = run_cli(*args)
        assert code == 1 and "MAILER_SMTP_ALLOW_PLAINTEXT_REMOTE" in err


def test_smtp_server_command_keeps_what_arrives(tmp_path: Path) -> None:
    store = tmp_path / "received"
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mailer", "smtp-server", "--store", str(store), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert server.stdout is not None
        assert "Listening on 127.0.0.1" in server.stdout.readline()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("a@example.nl", ["b@example.nl"], b"Subject: test\r\n\r\nhallo\r\n")
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    assert "Stopped after receiving 1 message." in out
    assert read_received(store)[0].envelope_to == ["b@example.nl"]


def test_a_mistyped_host_is_one_line_and_leaves_messages_approved(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = approved_outbox(workspace, 2)
    point_at(monkeypatch, {"MAILER_SMTP_SECURITY": "starttls", "MAILER_SMTP_HOST": "a..example"})
    code, out, err = run_cli("check", "--smtp")
    assert code == 1 and "Traceback" not in out + err
    assert err.strip().splitlines() == [
        "error: a..example:8025: 'a..example' is not a valid host name; check MAILER_SMTP_HOST"
    ]
    code, out, err = run_cli("send", "--yes")
    assert code == 1 and "Traceback" not in out + err
    assert "Stopped: a..example:8025: 'a..example' is not a valid host name" in err
    assert "0 sent; 2 not sent stay approved" in err
    assert out.strip().endswith("2 skipped (2 not sent because the run stopped).")
    outbox = Outbox(workspace.outbox_dir)
    assert {outbox.load(message_id).state for message_id in ids} == {State.APPROVED}
    # The next run has nothing to mark unknown: no message was ever claimed.
    code, out, err = run_cli("send", "--dry-run")
    assert "unknown" not in err and "Would send 2 messages" in out


def test_retry_keeps_the_approval_of_an_unchanged_message_and_reviews_a_changed_one(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = approved_outbox(workspace, 3)
    everyone_refused = RecordingHandler(
        rcpt_replies={f"ouder{n}@example.nl": "550 5.1.1 User unknown" for n in range(3)}
    )
    with smtp_server(everyone_refused) as server:
        point_at(monkeypatch, smtp_env(server))
        code, out, _ = run_cli("send", "--yes")
    assert code == 1 and "0 sent, 0 deferred, 3 failed" in out
    outbox = Outbox(workspace.outbox_dir)
    # A failed message cannot simply be approved again: the hint names the way out.
    code, _, err = run_cli("approve", first, "--by", "Anna")
    assert code == 1 and "mailer retry ID --by NAME" in err
    code, _, err = run_cli("retry", "--by", "Anna")
    assert code == 2 and "--all-failed" in err
    code, out, _ = run_cli("retry", first[:4], "--by", "Anna")
    assert code == 0 and f"{first} is approved again (unchanged) by decision of Anna" in out
    code, out, _ = run_cli("reject", second, "--reason", "address unknown", "--by", "Anna")
    assert code == 0 and outbox.load(second).state == State.REJECTED
    changed = outbox.read_bytes(third).replace(b"Dolfijnen", b"Zeepaardjes")
    overwrite_stored_bytes(outbox, third, changed)
    code, out, _ = run_cli("retry", "--all-failed", "--by", "Anna")
    assert code == 0 and f"{third} changed since it was approved and is back for review" in out
    kept, reviewed = outbox.load(first), outbox.load(third)
    assert kept.state == State.APPROVED and kept.approval is not None
    assert reviewed.state == State.PENDING and reviewed.approval is None
    for stored in (kept, reviewed):
        note = stored.history[-1].note
        assert "after it failed" in note and "550 5.1.1 User unknown" in note
        assert "ouder" not in note  # the note goes to the journal: addresses redacted
        assert stored.history[-1].by == "Anna"
    code, out, _ = run_cli("retry", "--all-failed", "--by", "Anna")
    assert code == 0 and "No failed messages." in out
    # The unchanged one goes with the next send; the changed one waits for a person.
    good = RecordingHandler()
    with smtp_server(good) as server:
        point_at(monkeypatch, smtp_env(server))
        code, out, _ = run_cli("send", "--yes")
    assert "1 not approved yet" in out and "1 sent" in out
    assert [a.rcpt_tos for a in good.arrivals] == [["ouder0@example.nl"]]
    code, out, _ = run_cli("log", first)
    assert "failed -> approved" in out and "Anna" in out


def test_retry_refuses_a_message_that_did_not_fail(workspace: Workspace, run_cli: Run) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    code, out, err = run_cli("retry", message_id, "--by", "Anna")
    assert code == 1 and "Traceback" not in out + err
    assert message_id in err
    assert Outbox(workspace.outbox_dir).load(message_id).state == State.APPROVED


def test_send_exits_1_when_a_letter_was_held_back_for_a_person_to_look_at(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = approved_outbox(workspace, 2)
    outbox = Outbox(workspace.outbox_dir)
    changed = outbox.read_bytes(second).replace(b"Dolfijnen", b"Zeepaardjes")
    overwrite_stored_bytes(outbox, second, changed)
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        point_at(monkeypatch, smtp_env(server))
        code, out, _ = run_cli("send", "--yes")
    assert code == 1
    assert "1 sent" in out and "changed after approval" in out
    outbox = Outbox(workspace.outbox_dir)
    assert (outbox.load(first).state, outbox.load(second).state) == (State.SENT, State.APPROVED)


def test_a_quota_stop_is_one_line_with_what_was_sent_and_when_to_go_on(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = approved_outbox(workspace, 4)
    handler = ProviderHandler(quota_after=1)
    with provider_server(handler) as server:
        point_at(monkeypatch, smtp_env(server))
        code, out, err = run_cli("send", "--yes")
    assert code == 1 and "Traceback" not in out + err
    (line,) = err.strip().splitlines()
    assert "daily sending quota for this mailbox is used up (554 5.2.0" in line
    assert "1 sent; 3 not sent stay approved: run `mailer send` again after " in line
    assert out.startswith("Sending 4 messages, no pace limit.")
    outbox = Outbox(workspace.outbox_dir)
    assert sorted(outbox.load(i).state for i in ids) == [State.APPROVED] * 3 + [State.SENT]


def test_more_connections_than_the_provider_accepts_are_refused_in_one_line(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_outbox(workspace, 1)
    point_at(monkeypatch, {"MAILER_SMTP_MAX_CONNECTIONS": "3", "MAILER_RATE_LIMIT": "30"})
    code, out, err = run_cli("send", "--yes", "--connections", "4")
    assert code == 1 and "Traceback" not in out + err
    assert err.strip().splitlines() == [
        "error: --connections 4: the server accepts at most 3 at the same time from one "
        "mailbox (smtp max_connections); use --connections 3 or fewer"
    ]


def test_a_long_run_says_its_pace_and_when_it_should_be_ready(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_outbox(workspace, 2)
    with smtp_server(RecordingHandler()) as server:
        point_at(monkeypatch, smtp_env(server, MAILER_RATE_LIMIT="30"))
        code, out, _ = run_cli("send", "--yes", "--limit", "1")
        assert code == 0
        assert re.match(r"Sending 1 message at 30 per minute: ready around \d\d:\d\d ", out)
        monkeypatch.setenv("MAILER_UI_LANGUAGE", "nl")  # what staff read by default
        code, out, _ = run_cli("send", "--yes")
    assert code == 0
    assert re.match(r"1 bericht versturen, 30 per minuut: klaar rond \d\d:\d\d ", out)


def test_check_shows_the_pace_a_provider_preset_brings(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = workspace.settings_file.read_text(encoding="utf-8")
    # A workspace moved to Microsoft 365: the demo's server lines go, the provider comes in.
    for line in ('host = "127.0.0.1"\n', "port = 8025\n", 'security = "none"      '):
        settings = settings.replace(line, "", 1)
    settings = settings.replace("[smtp]\n", '[smtp]\nprovider = "microsoft365"\n', 1)
    workspace.settings_file.write_text(settings, encoding="utf-8")
    point_at(monkeypatch, {"MAILER_SMTP_AUTH": "password"})
    code, out, err = run_cli("check")
    assert code == 0, err
    assert "server smtp.office365.com:587 (STARTTLS)" in out
    assert (
        "Pace for this mailbox, over every `mailer send`: 30 messages per minute, at most "
        "10000 recipients a day, at most 3 connections." in out
    )
