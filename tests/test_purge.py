"""Purging old sent and rejected messages: content gone, the journal keeps a line without it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mailer.clock import now_in_amsterdam
from mailer.errors import OutboxError
from mailer.outbox.purge import purge_before
from mailer.outbox.store import Outbox, State
from mailer.review.decisions import reject
from mailer.sending.run import send_approved
from mailer.workspace import Workspace
from tests.smtp_servers import RecordingHandler, approved_outbox
from tests.test_sending import serve  # noqa: F401  (fixture)

PERSONAL = ("ouder0@example.nl", "ouder1@example.nl", "Zoë", "Tweede ouder")


def test_purge_blanks_sent_and_rejected_messages_only(
    workspace: Workspace,
    serve: Any,  # noqa: F811
) -> None:
    outbox = Outbox(workspace.outbox_dir)
    sent, rejected, waiting = approved_outbox(workspace, 3)
    reject(outbox, rejected, "Anna", "wrong date for Zoë")
    reject(outbox, waiting, "Anna", "hold")  # rejected, then...
    handler = RecordingHandler(rcpt_replies={"ouder2@example.nl": "550 unknown ouder2@example.nl"})
    send_approved(outbox, serve(handler))
    assert outbox.load(sent).state == State.SENT
    purged = purge_before(outbox, now_in_amsterdam() + timedelta(minutes=1), "Anna")
    assert sorted(purged) == sorted([sent, rejected, waiting])
    for message_id in purged:
        stored = outbox.load(message_id)
        assert stored.purged and stored.to == [] and stored.child_name == ""
        assert stored.record == {} and stored.subject == ""
        assert not outbox.eml_path(message_id).exists()
        text = (outbox.messages_dir / f"{message_id}.json").read_text(encoding="utf-8")
        assert not any(word in text for word in PERSONAL)
    journal = outbox.journal_path.read_text(encoding="utf-8").splitlines()
    assert sum("content purged" in line for line in journal) == 3
    assert not any(word in line for line in journal for word in PERSONAL)
    # A second purge finds nothing more to do.
    assert purge_before(outbox, now_in_amsterdam() + timedelta(minutes=1), "Anna") == []


def test_purge_keeps_messages_finished_after_the_date(workspace: Workspace) -> None:
    outbox = Outbox(workspace.outbox_dir)
    (message_id,) = approved_outbox(workspace, 1)
    reject(outbox, message_id, "Anna", "not now")
    assert purge_before(outbox, now_in_amsterdam() - timedelta(days=1), "Anna") == []
    assert outbox.eml_path(message_id).exists()


def test_purge_leaves_approved_and_pending_messages_alone(workspace: Workspace) -> None:
    outbox = Outbox(workspace.outbox_dir)
    (message_id,) = approved_outbox(workspace, 1)
    assert purge_before(outbox, now_in_amsterdam() + timedelta(days=1), "Anna") == []
    assert outbox.load(message_id).to


def test_purge_needs_a_name(workspace: Workspace) -> None:
    with pytest.raises(OutboxError):
        purge_before(Outbox(workspace.outbox_dir), now_in_amsterdam(), " ")


def test_purge_removes_the_preview_and_temporary_files_left_by_a_crash(
    workspace: Workspace,
    run_cli: Any,
    serve: Any,  # noqa: F811
) -> None:
    outbox = Outbox(workspace.outbox_dir)
    (message_id,) = approved_outbox(workspace, 1)
    code, _, _ = run_cli("show", message_id, "--html")
    preview = workspace.outbox_dir / "previews" / f"{message_id}.html"
    assert code == 0 and preview.exists()
    send_approved(outbox, serve(RecordingHandler()))
    # What a crash in the middle of a durable write leaves behind (see mailer/durable.py).
    leftovers = [
        outbox.messages_dir / f".{message_id}.json.4242.tmp",
        outbox.messages_dir / f".{message_id}.eml.4242.tmp",
        workspace.outbox_dir / "previews" / f".{message_id}.html.4242.tmp",
    ]
    for path in leftovers:
        path.write_text("Zoë ouder0@example.nl", encoding="utf-8")
    assert purge_before(outbox, now_in_amsterdam() + timedelta(minutes=1), "Anna") == [message_id]
    assert not preview.exists()
    assert not any(path.exists() for path in leftovers)
    every_file = [path for path in workspace.outbox_dir.rglob("*") if path.is_file()]
    for path in every_file:
        assert not any(word.encode() in path.read_bytes() for word in PERSONAL), path


def test_a_purged_message_with_a_leftover_preview_is_purged_again(
    workspace: Workspace,
    serve: Any,  # noqa: F811
) -> None:
    outbox = Outbox(workspace.outbox_dir)
    (message_id,) = approved_outbox(workspace, 1)
    send_approved(outbox, serve(RecordingHandler()))
    later = now_in_amsterdam() + timedelta(minutes=1)
    assert purge_before(outbox, later, "Anna") == [message_id]
    preview = workspace.outbox_dir / "previews" / f"{message_id}.html"
    preview.parent.mkdir(exist_ok=True)
    preview.write_text("Zoë", encoding="utf-8")
    assert purge_before(outbox, later, "Anna") == [message_id]
    assert not preview.exists()


def test_failed_messages_are_purged_too(
    workspace: Workspace,
    serve: Any,  # noqa: F811
) -> None:
    outbox = Outbox(workspace.outbox_dir)
    (message_id,) = approved_outbox(workspace, 1)
    handler = RecordingHandler(rcpt_replies={"ouder0@example.nl": "550 5.1.1 ouder0@example.nl"})
    send_approved(outbox, serve(handler))
    assert outbox.load(message_id).state == State.FAILED
    assert purge_before(outbox, now_in_amsterdam() + timedelta(minutes=1), "Anna") == [message_id]
    stored = outbox.load(message_id)
    assert stored.purged and stored.last_error is None
    text = (outbox.messages_dir / f"{message_id}.json").read_text(encoding="utf-8")
    assert not any(word in text for word in PERSONAL)
