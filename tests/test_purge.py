"""Purging old sent, failed and rejected messages: content gone from every file, the journal
keeps a line without it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mailer.clock import now_in_amsterdam
from mailer.errors import MessageNotFound, OutboxError
from mailer.outbox.purge import purge_before
from mailer.outbox.store import Outbox, State
from mailer.review.decisions import reject
from mailer.sending.run import send_approved
from mailer.workspace import Workspace
from tests.conftest import open_outbox
from tests.smtp_servers import RecordingHandler, approved_outbox
from tests.test_sending import serve  # noqa: F401  (fixture)

PERSONAL = ("ouder0@example.nl", "ouder1@example.nl", "Zoë", "Tweede ouder")


def assert_no_personal_data(outbox: Outbox, message_id: str) -> None:
    stored = outbox.load(message_id)
    assert stored.purged and stored.to == [] and stored.child_name == ""
    assert stored.record == {} and stored.subject == ""
    with pytest.raises(MessageNotFound):
        outbox.read_bytes(message_id)
    assert not any(word in stored.model_dump_json() for word in PERSONAL)


@pytest.mark.usefixtures("outbox_engine")
def test_purge_blanks_sent_rejected_and_failed_messages_only(
    workspace: Workspace,
    serve: Any,  # noqa: F811
) -> None:
    outbox = open_outbox(workspace)
    sent, rejected, failed, waiting = approved_outbox(workspace, 4)
    reject(outbox, rejected, "Anna", "wrong date for Zoë")
    handler = RecordingHandler(rcpt_replies={"ouder2@example.nl": "550 unknown ouder2@example.nl"})
    send_approved(outbox, serve(handler), limit=2)
    assert [outbox.load(i).state for i in (sent, failed)] == [State.SENT, State.FAILED]
    purged = purge_before(outbox, now_in_amsterdam() + timedelta(minutes=1), "Anna")
    assert sorted(purged) == sorted([sent, rejected, failed])
    for message_id in purged:
        assert_no_personal_data(outbox, message_id)
    assert outbox.load(waiting).state == State.APPROVED and outbox.load(waiting).to
    journal = [entry.model_dump_json() for entry in outbox.journal()]
    assert sum("content purged" in line for line in journal) == 3
    assert not any(word in line for line in journal for word in PERSONAL)
    # A second purge finds nothing more to do.
    assert purge_before(outbox, now_in_amsterdam() + timedelta(minutes=1), "Anna") == []


def test_purge_keeps_messages_finished_after_the_date(workspace: Workspace) -> None:
    outbox = Outbox(workspace.outbox_dir)
    (message_id,) = approved_outbox(workspace, 1)
    reject(outbox, message_id, "Anna", "not now")
    assert purge_before(outbox, now_in_amsterdam() - timedelta(days=1), "Anna") == []
    assert outbox.read_bytes(message_id)


def test_purge_needs_a_name(workspace: Workspace) -> None:
    with pytest.raises(OutboxError):
        purge_before(Outbox(workspace.outbox_dir), now_in_amsterdam(), " ")


def test_after_a_purge_no_file_of_the_outbox_holds_the_content(
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
    assert purge_before(outbox, now_in_amsterdam() + timedelta(minutes=1), "Anna") == [message_id]
    assert not preview.exists()
    every_file = [path for path in workspace.outbox_dir.rglob("*") if path.is_file()]
    assert any(path.name == "outbox.sqlite3" for path in every_file)
    for path in every_file:
        content = path.read_bytes()
        assert not any(word.encode() in content for word in PERSONAL), path


def test_a_leftover_preview_of_a_purged_message_is_removed_by_the_next_purge(
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
    assert purge_before(outbox, later, "Anna") == []
    assert not preview.exists()
