"""Purging old sent and rejected messages: content gone, the journal keeps a line without it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mailer.errors import OutboxError
from mailer.outbox import Outbox, State
from mailer.purge import purge_before
from mailer.records import now_in_amsterdam
from mailer.review import reject
from mailer.sending import send_approved
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
