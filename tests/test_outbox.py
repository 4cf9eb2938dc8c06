"""The outbox: stored bytes, permissions, the transition rules, IDs and concurrent processes."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from mailer.clock import now_in_amsterdam
from mailer.config import load_settings
from mailer.errors import MessageNotFound, TransitionNotAllowed
from mailer.intake.records import IntakeRecord
from mailer.journal import read_entries
from mailer.letters.compose import Composer
from mailer.letters.rendering import LetterRenderer
from mailer.outbox.store import (
    ALLOWED,
    Approval,
    Outbox,
    RecordAlreadyQueued,
    State,
    StoredMessage,
    TransitionRequest,
    sha256_hex,
)
from mailer.workspace import Workspace
from tests.conftest import intake_row


def queue_one(workspace: Workspace, **overrides: str) -> tuple[Outbox, StoredMessage]:
    outbox = Outbox(workspace.outbox_dir)
    composer = Composer(load_settings(workspace.root), LetterRenderer(workspace.templates_dir))
    composed = composer.compose(IntakeRecord.model_validate(intake_row(**overrides)), "Coach")
    return outbox, outbox.add(composed.draft, composed.data, by="Coach")


def test_message_is_stored_as_exact_bytes_with_matching_hash(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    data = outbox.eml_path(stored.id).read_bytes()
    assert sha256_hex(data) == stored.sha256
    assert data.startswith(b"From: ") or b"\r\nFrom: " in data
    assert outbox.load(stored.id) == stored
    assert stored.state == State.PENDING
    assert [entry.to_state for entry in stored.history] == [State.PENDING]


def test_outbox_files_and_folders_are_private(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    for folder in (outbox.directory, outbox.messages_dir, outbox.keys_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in (
        outbox.eml_path(stored.id),
        outbox.messages_dir / f"{stored.id}.json",
        outbox.journal_path,
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_temporary_file_is_left_and_a_leftover_one_is_ignored(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    assert [p.name for p in outbox.messages_dir.iterdir() if p.name.startswith(".")] == []
    # What a crash between write and rename leaves behind: never shown as a message.
    (outbox.messages_dir / f".{stored.id}.json.999.tmp").write_text("{half", encoding="utf-8")
    assert [message.id for message in outbox.messages()] == [stored.id]


def test_a_batch_of_changes_is_committed_together_and_a_refused_one_stops_no_other(
    workspace: Workspace,
) -> None:
    outbox = Outbox(workspace.outbox_dir)
    stored = [queue_one(workspace, id=f"PL-{n}")[1] for n in range(3)]
    for message in stored[:2]:
        outbox.transition(message.id, State.APPROVED, by="Anna")
    approved_only = frozenset({State.APPROVED})
    results = outbox.transition_many(
        [
            TransitionRequest(message.id, State.SENDING, "sender", only_from=approved_only)
            for message in stored
        ]
    )
    assert [r.state for r in results if isinstance(r, StoredMessage)] == [State.SENDING] * 2
    assert isinstance(results[2], TransitionNotAllowed)
    assert [outbox.load(message.id).state for message in stored] == [
        State.SENDING,
        State.SENDING,
        State.PENDING,
    ]
    claimed = [e.message for e in read_entries(outbox.journal_path) if e.to_state == "sending"]
    assert claimed == [stored[0].id, stored[1].id]


def test_a_change_keeps_the_version_before_it_in_a_private_swap_file(
    workspace: Workspace,
) -> None:
    outbox, stored = queue_one(workspace)
    outbox.transition(stored.id, State.APPROVED, by="Anna")
    swap = outbox.messages_dir / f".{stored.id}.json.swap"
    assert json.loads(swap.read_bytes())["state"] == "pending"
    assert stat.S_IMODE(swap.stat().st_mode) == 0o600
    outbox.transition(stored.id, State.PENDING, by="Anna")
    assert json.loads(swap.read_bytes())["state"] == "approved"
    assert outbox.load(stored.id).state == State.PENDING
    assert [message.id for message in outbox.messages()] == [stored.id]


def test_same_record_cannot_be_added_twice(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    with pytest.raises(RecordAlreadyQueued) as caught:
        queue_one(workspace)
    assert caught.value.existing_id == stored.id
    assert len(outbox.ids()) == 1


def test_transitions_outside_the_table_are_refused(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    with pytest.raises(TransitionNotAllowed, match="approve it first"):
        outbox.transition(stored.id, State.SENDING, by="sender")
    assert outbox.load(stored.id).state == State.PENDING
    assert ALLOWED[State.SENT] == frozenset()


def test_every_transition_is_journaled_and_kept_in_history(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    outbox.transition(stored.id, State.REJECTED, by="Anna", note="rejected")
    entries = list(read_entries(outbox.journal_path, stored.id))
    assert [(e.from_state, e.to_state, e.by) for e in entries] == [
        (None, "pending", "Coach"),
        ("pending", "rejected", "Anna"),
    ]
    assert [h.to_state for h in outbox.load(stored.id).history] == [State.PENDING, State.REJECTED]
    # The journal names no child and no address: it may outlive the message's content.
    journal = outbox.journal_path.read_text(encoding="utf-8")
    assert "Zoë" not in journal
    assert "@" not in journal


def test_ids_resolve_from_a_unique_prefix(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    assert outbox.resolve(stored.id[:4].upper()) == stored.id
    with pytest.raises(MessageNotFound, match="at least 3"):
        outbox.resolve(stored.id[:2])
    with pytest.raises(MessageNotFound, match="no message with this ID"):
        outbox.resolve("zzzzzzzz")


def test_changed_bytes_after_approval_are_detected(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    approval = Approval(by="Anna", at=now_in_amsterdam(), sha256=stored.sha256)
    approved = outbox.transition(
        stored.id, State.APPROVED, by="Anna", change=lambda _: {"approval": approval}
    )
    assert outbox.approval_problem(approved) is None
    path = outbox.eml_path(stored.id)
    path.write_bytes(path.read_bytes().replace(b"Beste", b"Lieve"))
    assert "changed after it was approved" in (outbox.approval_problem(approved) or "")


CLAIM_SCRIPT = """
import sys
from pathlib import Path
from mailer.errors import TransitionNotAllowed
from mailer.outbox.store import Outbox, State
outbox = Outbox(Path(sys.argv[1]))
try:
    outbox.transition(
        sys.argv[2], State.SENDING, by=sys.argv[3], only_from=frozenset({State.APPROVED})
    )
except TransitionNotAllowed:
    print("lost")
else:
    print("won")
"""


def test_only_one_of_several_processes_claims_a_message(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    outbox.transition(stored.id, State.APPROVED, by="Anna")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIM_SCRIPT, str(outbox.directory), stored.id, f"sender-{n}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    results = sorted(process.communicate(timeout=60)[0].strip() for process in processes)
    assert results == ["lost", "lost", "lost", "won"]
    assert outbox.load(stored.id).state == State.SENDING
    claims = [
        line
        for line in outbox.journal_path.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["to_state"] == "sending"
    ]
    assert len(claims) == 1


def test_metadata_lists_recipients_and_meeting(workspace: Workspace) -> None:
    _, stored = queue_one(workspace, child_name="Đorđe")
    assert stored.to == ["sanne@example.nl", "mark@example.nl"]
    assert stored.child_name == "Đorđe"
    assert stored.meeting_at.tzinfo is not None
    assert stored.record["child_name"] == "Đorđe"


def test_damaged_metadata_file_is_named_not_echoed_and_others_still_list(
    workspace: Workspace,
) -> None:
    outbox, stored = queue_one(workspace)
    (outbox.messages_dir / "zzzzzzzz.json").write_text('{"id": "Zoë de Vries', encoding="utf-8")
    damaged: list[str] = []
    assert [message.id for message in outbox.messages(damaged=damaged)] == [stored.id]
    assert len(damaged) == 1
    assert damaged[0].startswith("zzzzzzzz.json: this outbox file is damaged")
    assert "Zoë" not in damaged[0]


def test_ids_that_are_not_ids_never_reach_the_file_system(workspace: Workspace) -> None:
    outbox, _ = queue_one(workspace)
    for bad in ("../../etc/passwd", "abc/def", "ABCDEFGH", ""):
        with pytest.raises(MessageNotFound):
            outbox.load(bad)
        with pytest.raises(MessageNotFound):
            outbox.transition(bad, State.REJECTED, by="x")


def test_a_torn_journal_line_is_passed_over(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    with outbox.journal_path.open("a", encoding="utf-8") as journal:
        journal.write('{"at": "2026-12-01T10:00:00+01:00", "mess')
    assert [entry.message for entry in read_entries(outbox.journal_path)] == [stored.id]


def test_a_change_sees_what_another_process_wrote_after_this_one(workspace: Workspace) -> None:
    # Each Outbox stands for one process; `mine` remembers what it wrote last.
    mine, stored = queue_one(workspace)
    theirs = Outbox(workspace.outbox_dir)
    mine.transition(stored.id, State.APPROVED, by="Anna")
    theirs.transition(stored.id, State.PENDING, by="Bram", note="back for another look")
    with pytest.raises(TransitionNotAllowed):
        mine.transition(
            stored.id, State.SENDING, by="sender", only_from=frozenset({State.APPROVED})
        )
    assert mine.transition(stored.id, State.APPROVED, by="Anna").history[-2].by == "Bram"


def test_an_outbox_remembers_a_bounded_number_of_its_writes(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mailer.outbox.store._REMEMBERED", 2)
    outbox = Outbox(workspace.outbox_dir)
    stored = [queue_one(workspace, id=f"PL-{n}")[1] for n in range(3)]
    outbox.transition_many([TransitionRequest(m.id, State.APPROVED, "Anna") for m in stored])
    assert list(outbox._written) == [m.id for m in stored[1:]]
    # What it remembers is what a fresh read gives.
    assert all(outbox._load_current(m.id) == outbox.load(m.id) for m in stored)
