"""The outbox writer of a send run, in a child process (where fork exists) or in a thread: the
same claims and outcomes either way, and nothing left running when the run ends."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os

import pytest

from mailer.config import load_settings
from mailer.errors import OutboxError
from mailer.outbox.store import Outbox, State
from mailer.outbox_writer import WRITER_NICENESS, OutboxWriter, start_writer
from mailer.run_writes import Change, Recorded, RunWrites, ToSend
from mailer.send_ledger import RunLedger
from mailer.sending.delivery import Outcome, TransactionResult
from mailer.workspace import Workspace
from tests.smtp_servers import approved_outbox


def run_writes(workspace: Workspace) -> RunWrites:
    outbox = Outbox(workspace.outbox_dir)
    ledger = RunLedger(outbox)
    ledger.close(finished=True)
    return RunWrites(outbox, load_settings(workspace.root), "test sender", ledger.claim)


@pytest.fixture(params=["process", "thread"])
def writer_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_writer(writes: RunWrites, kind: str) -> OutboxWriter:
    return start_writer(writes) if kind == "process" else OutboxWriter(writes)


def test_claims_and_outcomes_go_through_the_writer(workspace: Workspace, writer_kind: str) -> None:
    ids = approved_outbox(workspace, 3)
    writes = run_writes(workspace)
    outbox = writes.outbox
    writer = open_writer(writes, writer_kind)
    try:

        async def scenario() -> tuple[list[ToSend | str], list[Recorded | str]]:
            taken = await writer.claim([*ids, ids[0]])
            sent = TransactionResult(Outcome.SENT, "250 2.0.0 queued")
            changes = [
                Change(ids[0], sent),
                Change(ids[1], TransactionResult(Outcome.FAILED, "550 5.1.1 no such user")),
                Change(ids[2], "the run was interrupted"),
            ]
            return taken, await writer.commit(changes)

        taken, recorded = asyncio.run(scenario())
    finally:
        writer.close()
    # Each message is taken once, with its approved bytes and the record's recipients.
    assert [t.message_id for t in taken if isinstance(t, ToSend)] == ids
    assert taken[3] == "taken by another sender"
    first = taken[0]
    assert isinstance(first, ToSend)
    assert first.data == outbox.read_bytes(ids[0])
    assert list(first.recipients) == outbox.load(ids[0]).to
    assert [r.outcome for r in recorded if isinstance(r, Recorded)] == ["sent", "failed", ""]
    assert [outbox.load(i).state for i in ids] == [State.SENT, State.FAILED, State.APPROVED]
    assert multiprocessing.active_children() == []  # the child ended with the run
    # Objects frozen for the fork are handed back to the collector: a process that sends
    # many times over does not keep its garbage.
    assert gc.get_freeze_count() == 0


def test_a_damaged_message_is_skipped_with_its_file_named(
    workspace: Workspace, writer_kind: str
) -> None:
    ids = approved_outbox(workspace, 2)
    writes = run_writes(workspace)
    (writes.outbox.messages_dir / f"{ids[0]}.json").write_text("{damaged", encoding="utf-8")
    writer = open_writer(writes, writer_kind)
    try:
        taken = asyncio.run(writer.claim(ids))
    finally:
        writer.close()
    assert isinstance(taken[0], str) and f"{ids[0]}.json: this outbox file is damaged" in taken[0]
    assert isinstance(taken[1], ToSend) and taken[1].message_id == ids[1]


def test_a_file_system_failure_is_one_clear_error(workspace: Workspace, writer_kind: str) -> None:
    ids = approved_outbox(workspace, 1)
    writes = run_writes(workspace)
    # Something in the way of the journal (it cannot be appended to): the whole batch fails.
    writes.outbox.journal_path.unlink()
    writes.outbox.journal_path.mkdir()
    writer = open_writer(writes, writer_kind)
    try:
        with pytest.raises(OutboxError, match=r"could not write to the outbox \(Is a directory"):
            asyncio.run(writer.claim(ids))
    finally:
        writer.close()


def test_the_writer_process_runs_below_the_sender(workspace: Workspace) -> None:
    ids = approved_outbox(workspace, 1)
    sender_niceness = os.getpriority(os.PRIO_PROCESS, 0)
    writer = start_writer(run_writes(workspace))
    try:
        # The child lowers its priority when it starts; a claim answered means it has.
        taken = asyncio.run(writer.claim(ids))
        children = multiprocessing.active_children()
        (child,) = [p for p in children if p.name == "mailer-outbox-writer"]
        assert child.pid is not None
        writer_niceness = os.getpriority(os.PRIO_PROCESS, child.pid)
    finally:
        writer.close()
    assert isinstance(taken[0], ToSend)
    assert writer_niceness == min(sender_niceness + WRITER_NICENESS, 19)
    assert os.getpriority(os.PRIO_PROCESS, 0) == sender_niceness  # the sender keeps its own
