"""The outbox store: stored bytes, the transition rules, the journal in the same transaction,
IDs, privacy, the schema's version, and concurrent processes; on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from mailer.clock import now_in_amsterdam
from mailer.config import load_settings
from mailer.errors import MessageNotFound, OutboxError, TransitionNotAllowed
from mailer.intake.records import IntakeRecord
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
from mailer.review.summary import approval_problem
from mailer.workspace import Workspace
from tests.conftest import intake_row, open_outbox
from tests.tampering import damage_metadata, replace_message_keeping_approval

pytestmark = pytest.mark.usefixtures("outbox_engine", "english")


def queue_one(workspace: Workspace, **overrides: str) -> tuple[Outbox, StoredMessage]:
    outbox = open_outbox(workspace)
    composer = Composer(load_settings(workspace.root), LetterRenderer(workspace.templates_dir))
    composed = composer.compose(IntakeRecord.model_validate(intake_row(**overrides)), "Coach")
    return outbox, outbox.add(composed.draft, composed.data, by="Coach")


def test_message_is_stored_as_exact_bytes_with_matching_hash(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    data = outbox.read_bytes(stored.id)
    assert sha256_hex(data) == stored.sha256
    assert data.startswith(b"From: ") or b"\r\nFrom: " in data
    assert outbox.load(stored.id) == stored
    assert stored.state == State.PENDING
    assert [entry.to_state for entry in stored.history] == [State.PENDING]


def test_a_batch_of_changes_is_committed_together_and_a_refused_one_stops_no_other(
    workspace: Workspace,
) -> None:
    outbox = open_outbox(workspace)
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
    claimed = [entry.message for entry in outbox.journal() if entry.to_state == "sending"]
    assert sorted(claimed) == sorted([stored[0].id, stored[1].id])


def test_a_change_that_fails_half_way_leaves_no_trace(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)

    def refuse(_: StoredMessage) -> dict[str, object]:
        raise OutboxError("refused by the caller")

    with pytest.raises(OutboxError, match="refused by the caller"):
        outbox.transition(stored.id, State.APPROVED, by="Anna", change=refuse)
    assert outbox.load(stored.id).state == State.PENDING
    assert [entry.to_state for entry in outbox.journal(stored.id)] == ["pending"]


def test_a_state_change_and_its_journal_line_are_one_transaction(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    # The database itself refuses the next journal line, after the state was already changed
    # in the same transaction: that change must go with it.
    with outbox.engine.begin() as connection:
        if outbox.is_sqlite:
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_journal BEFORE INSERT ON journal "
                "BEGIN SELECT RAISE(ABORT, 'journal refused'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse_journal() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN RAISE EXCEPTION 'journal refused'; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_journal BEFORE INSERT ON journal "
                "FOR EACH ROW EXECUTE FUNCTION refuse_journal()"
            )
    with pytest.raises(Exception, match="journal refused"):
        outbox.transition(stored.id, State.APPROVED, by="Anna")
    assert outbox.load(stored.id).state == State.PENDING
    assert len(outbox.journal(stored.id)) == 1


def test_same_record_cannot_be_added_twice(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    with pytest.raises(RecordAlreadyQueued) as caught:
        queue_one(workspace)
    assert caught.value.existing_id == stored.id
    assert outbox.ids() == [stored.id]
    assert outbox.message_for_key(stored.record_key) == stored.id


def test_transitions_outside_the_table_are_refused(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    with pytest.raises(TransitionNotAllowed, match="approve it first"):
        outbox.transition(stored.id, State.SENDING, by="sender")
    assert outbox.load(stored.id).state == State.PENDING
    assert ALLOWED[State.SENT] == frozenset()


def test_every_transition_is_journaled_and_kept_in_history(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    outbox.transition(stored.id, State.REJECTED, by="Anna", note="rejected")
    entries = outbox.journal(stored.id)
    assert [(e.from_state, e.to_state, e.by) for e in entries] == [
        (None, "pending", "Coach"),
        ("pending", "rejected", "Anna"),
    ]
    assert [h.to_state for h in outbox.load(stored.id).history] == [State.PENDING, State.REJECTED]
    assert all(entry.at.utcoffset() is not None for entry in entries)
    # The journal names no child and no address: it may outlive the message's content.
    journal = " ".join(entry.model_dump_json() for entry in outbox.journal())
    assert "Zoë" not in journal
    assert "@" not in journal


def test_listing_gives_messages_in_queueing_order_page_after_page(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mailer.outbox.store._PAGE", 2)
    queued = [queue_one(workspace, id=f"PL-{n}")[1] for n in range(5)]
    outbox = open_outbox(workspace)
    assert [m.id for m in outbox.messages()] == [m.id for m in queued]
    outbox.transition(queued[3].id, State.APPROVED, by="Anna")
    assert [m.id for m in outbox.messages(State.APPROVED)] == [queued[3].id]
    assert len(outbox.ids()) == 5 and len(list(outbox.messages(State.PENDING))) == 4


def test_ids_resolve_from_a_unique_prefix(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    assert outbox.resolve(stored.id[:4].upper()) == stored.id
    assert outbox.resolve(stored.id) == stored.id
    with pytest.raises(MessageNotFound, match="at least 3"):
        outbox.resolve(stored.id[:2])
    with pytest.raises(MessageNotFound, match="no message with this ID"):
        outbox.resolve("zzzzzzzz")


def test_a_message_changed_after_approval_is_no_longer_approved_as_it_is(
    workspace: Workspace,
) -> None:
    outbox, stored = queue_one(workspace)
    approval = Approval(by="Anna", at=now_in_amsterdam(), sha256=stored.sha256)
    approved = outbox.transition(
        stored.id, State.APPROVED, by="Anna", change=lambda _: {"approval": approval}
    )
    assert approval_problem(approved) is None
    changed = outbox.read_bytes(stored.id).replace(b"Beste", b"Lieve")
    replace_message_keeping_approval(outbox, stored.id, changed)
    after = outbox.load(stored.id)
    assert "changed after it was approved" in (approval_problem(after) or "")


def test_new_bytes_replace_the_message_and_its_hash_together(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    data = outbox.read_bytes(stored.id) + b"\r\n"
    changed = outbox.transition(stored.id, State.PENDING, by="Anna", new_bytes=data)
    assert changed.sha256 == sha256_hex(data) == outbox.load(stored.id).sha256
    assert outbox.read_bytes(stored.id) == data


CLAIM_SCRIPT = """
import sys
from pathlib import Path
from mailer.config import load_settings
from mailer.errors import TransitionNotAllowed
from mailer.outbox.store import Outbox, State
from mailer.workspace import find_workspace
workspace = find_workspace(Path(sys.argv[1]))
outbox = Outbox.of_workspace(workspace, load_settings(workspace.root))
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
            [sys.executable, "-c", CLAIM_SCRIPT, str(workspace.root), stored.id, f"sender-{n}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    results = sorted(process.communicate(timeout=60)[0].strip() for process in processes)
    assert results == ["lost", "lost", "lost", "won"]
    assert outbox.load(stored.id).state == State.SENDING
    assert [entry.to_state for entry in outbox.journal(stored.id)].count("sending") == 1


def test_threads_changing_the_same_messages_never_lose_a_change(workspace: Workspace) -> None:
    queued = [queue_one(workspace, id=f"PL-{n}")[1] for n in range(4)]
    outbox = open_outbox(workspace)
    errors: list[BaseException] = []

    def flip(by: str) -> None:
        try:
            for _ in range(10):
                requests = [TransitionRequest(m.id, State.PENDING, by) for m in reversed(queued)]
                results = outbox.transition_many(requests)
                assert all(isinstance(result, StoredMessage) for result in results)
        except BaseException as error:  # reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=flip, args=(f"t{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    for message in queued:
        assert len(outbox.journal(message.id)) == 1 + 3 * 10


def test_metadata_lists_recipients_and_meeting(workspace: Workspace) -> None:
    _, stored = queue_one(workspace, child_name="Đorđe")
    assert stored.to == ["sanne@example.nl", "mark@example.nl"]
    assert stored.child_name == "Đorđe"
    assert stored.meeting_at.tzinfo is not None
    assert stored.record["child_name"] == "Đorđe"


def test_damaged_metadata_is_named_not_echoed_and_others_still_list(
    workspace: Workspace,
) -> None:
    outbox, damaged_one = queue_one(workspace)
    _, kept = queue_one(workspace, id="PL-2")
    damage_metadata(outbox, damaged_one.id)
    damaged: list[str] = []
    assert [message.id for message in outbox.messages(damaged=damaged)] == [kept.id]
    assert damaged == [
        f"{damaged_one.id}: the outbox's record of this message is damaged and cannot be "
        "read; restore the outbox from a backup"
    ]


def test_ids_that_are_not_ids_are_refused(workspace: Workspace) -> None:
    outbox, _ = queue_one(workspace)
    for bad in ("../../etc/passwd", "abc/def", "ABCDEFGH", "", "x' OR '1'='1"):
        with pytest.raises(MessageNotFound):
            outbox.load(bad)
        with pytest.raises(MessageNotFound):
            outbox.transition(bad, State.REJECTED, by="x")


def test_purged_content_is_gone_and_the_journal_says_so(workspace: Workspace) -> None:
    outbox, stored = queue_one(workspace)
    outbox.transition(stored.id, State.REJECTED, by="Anna")
    outbox.purge_content(stored.id, lambda _: {"child_name": "", "purged": True}, "Anna", "gone")
    with pytest.raises(MessageNotFound, match="purged"):
        outbox.read_bytes(stored.id)
    assert outbox.load(stored.id).child_name == ""
    assert outbox.journal(stored.id)[-1].note == "gone"


def test_a_change_sees_what_another_process_wrote(workspace: Workspace) -> None:
    mine, stored = queue_one(workspace)
    theirs = open_outbox(workspace)
    mine.transition(stored.id, State.APPROVED, by="Anna")
    theirs.transition(stored.id, State.PENDING, by="Bram", note="back for another look")
    with pytest.raises(TransitionNotAllowed):
        mine.transition(
            stored.id, State.SENDING, by="sender", only_from=frozenset({State.APPROVED})
        )
    assert mine.load(stored.id).history[-1].by == "Bram"


def test_one_transaction_commits_everything_or_nothing(workspace: Workspace) -> None:
    outbox = open_outbox(workspace)
    composer = Composer(load_settings(workspace.root), LetterRenderer(workspace.templates_dir))
    drafts = [
        composer.compose(IntakeRecord.model_validate(intake_row(id=f"PL-{n}")), "Coach")
        for n in range(3)
    ]
    with pytest.raises(RuntimeError, match="stopped half-way"), outbox.one_transaction():
        for composed in drafts[:2]:
            outbox.add(composed.draft, composed.data, by="Coach")
        assert len(outbox.ids()) == 2  # the block sees its own changes
        raise RuntimeError("stopped half-way")
    assert outbox.ids() == [] and outbox.journal() == []
    with outbox.one_transaction():
        first = outbox.add(drafts[0].draft, drafts[0].data, by="Coach")
        # A refused change inside the block leaves the others standing.
        with pytest.raises(RecordAlreadyQueued):
            outbox.add(drafts[0].draft, drafts[0].data, by="Coach")
        outbox.add(drafts[1].draft, drafts[1].data, by="Coach")
        assert open_outbox(workspace).ids() == []  # nobody else sees them yet
    assert len(outbox.ids()) == 2 and outbox.load(first.id).state == State.PENDING
