"""What the next sender does with the messages of a sender that died: each one recorded from the
dead sender's run ledger, given back when it surely never left, or `unknown`.

The dead sender is a real process: it claims messages, writes its ledger as `mailer send` does,
and ends without cleaning up (as after SIGKILL, its files stay as they were written).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from mailer.config import load_settings
from mailer.journal import read_entries
from mailer.outbox.store import Outbox, State
from mailer.send_ledger import ledger_runs
from mailer.sending.run import plan_send
from mailer.workspace import Workspace
from tests.smtp_servers import RecordingHandler, approved_outbox
from tests.test_sending import serve  # noqa: F401  (fixture)

REPOSITORY = Path(__file__).resolve().parent.parent

# Claims every given message, writes what a sender writes for each scenario, then dies at once
# (os._exit: no clean-up, no flushing beyond what was written).
DEAD_SENDER = """
import os, sys
from pathlib import Path
from mailer.sending.delivery import Outcome, TransactionResult
from mailer.outbox.store import Outbox
from mailer.send_ledger import RunLedger
from mailer.sending.records import Claimed, claim_messages

outbox = Outbox(Path(sys.argv[1]))
never_left, on_the_wire, answered, deferred = sys.argv[2:6]
ledger = RunLedger(outbox)
claimed = claim_messages(outbox, sys.argv[2:6], "dead sender", ledger.claim)
assert all(isinstance(c, Claimed) for c in claimed), claimed
ledger.handing_over(on_the_wire)
ledger.handing_over(answered)
ledger.outcome(answered, TransactionResult(Outcome.SENT, "250 2.0.0 Ok: queued as 4711"))
ledger.handing_over(deferred)
ledger.outcome(deferred, TransactionResult(Outcome.DEFERRED, "451 4.3.0 try again later"))
os._exit(0)
"""


def die_while_sending(outbox: Outbox, ids: list[str]) -> None:
    subprocess.run(
        [sys.executable, "-c", DEAD_SENDER, str(outbox.directory), *ids],
        cwd=REPOSITORY,
        check=True,
        timeout=60,
    )


def test_a_dead_senders_ledger_says_what_became_of_each_message(workspace: Workspace) -> None:
    never_left, on_the_wire, answered, deferred = approved_outbox(workspace, 4)
    outbox = Outbox(workspace.outbox_dir)
    die_while_sending(outbox, [never_left, on_the_wire, answered, deferred])
    assert {outbox.load(i).state for i in (never_left, on_the_wire, answered)} == {State.SENDING}

    plan = plan_send(outbox, recover_as="next sender", settings=load_settings(workspace.root))

    # Never handed over, same boot: it never left, so this run sends it.
    assert plan.recovery.given_back == [never_left]
    assert outbox.load(never_left).state == State.APPROVED
    # DATA began and no answer was written: it may have arrived; a person decides.
    assert plan.recovered == [on_the_wire]
    assert outbox.load(on_the_wire).state == State.UNKNOWN
    # The server's answers were in the ledger: recorded as if the dead sender had done it.
    assert plan.recovery.recorded == {answered: "sent", deferred: "deferred"}
    sent = outbox.load(answered)
    assert sent.state == State.SENT and sent.delivery is not None
    assert sent.delivery.reply == "250 2.0.0 Ok: queued as 4711"
    retry = outbox.load(deferred)
    assert retry.state == State.APPROVED and retry.next_attempt_at is not None
    assert [attempt.outcome for attempt in retry.attempts] == ["deferred"]
    # Only the message given back can go now; the deferred one waits for its retry time.
    assert plan.planned == [never_left]
    # Nothing refers to the dead run any more: its ledger is gone.
    assert list(ledger_runs(outbox)) == []
    notes = [entry.note for entry in read_entries(outbox.journal_path, never_left)]
    assert notes[-1] == "not sent: the run stopped before this message"


def test_after_a_restart_of_the_computer_only_written_answers_count(
    workspace: Workspace,
) -> None:
    never_left, on_the_wire, answered, deferred = approved_outbox(workspace, 4)
    outbox = Outbox(workspace.outbox_dir)
    die_while_sending(outbox, [never_left, on_the_wire, answered, deferred])
    # A restart empties the page cache, so missing lines prove nothing: make the ledger say it
    # was written during another boot of this computer.
    (run,) = ledger_runs(outbox)
    path = outbox.directory / "runs" / f"{run}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    header["claim"]["boot_id"] = "an-earlier-boot"
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n", encoding="utf-8")

    plan = plan_send(outbox, recover_as="next sender", settings=load_settings(workspace.root))

    assert sorted(plan.recovered) == sorted([never_left, on_the_wire])
    assert plan.recovery.given_back == []
    assert plan.recovery.recorded == {answered: "sent", deferred: "deferred"}
    assert plan.planned == []


def test_without_a_ledger_every_message_of_a_dead_sender_is_unknown(
    workspace: Workspace,
) -> None:
    ids = approved_outbox(workspace, 4)
    outbox = Outbox(workspace.outbox_dir)
    die_while_sending(outbox, ids)
    for run in ledger_runs(outbox):
        (outbox.directory / "runs" / f"{run}.jsonl").unlink()

    plan = plan_send(outbox, recover_as="next sender", settings=load_settings(workspace.root))

    assert sorted(plan.recovered) == sorted(ids)
    assert {outbox.load(message_id).state for message_id in ids} == {State.UNKNOWN}


def test_a_dry_run_recovers_nothing_and_keeps_the_ledger(workspace: Workspace) -> None:
    ids = approved_outbox(workspace, 4)
    outbox = Outbox(workspace.outbox_dir)
    die_while_sending(outbox, ids)

    plan = plan_send(outbox)

    assert plan.recovered == [] and plan.recovery.given_back == []
    assert {outbox.load(message_id).state for message_id in ids} == {State.SENDING}
    assert len(list(ledger_runs(outbox))) == 1


def test_send_says_what_it_took_over_from_a_dead_sender(
    workspace: Workspace,
    run_cli: Any,
    serve: Any,  # noqa: F811
) -> None:
    ids = approved_outbox(workspace, 4)
    never_left, on_the_wire, answered, _ = ids
    outbox = Outbox(workspace.outbox_dir)
    die_while_sending(outbox, ids)
    handler = RecordingHandler()
    serve(handler)

    code, out, err = run_cli("send", "--yes")

    assert code == 1, (out, err)  # an unknown message needs a person
    assert "1 message(s) an earlier sender had claimed but not yet handed over" in out
    assert "2 outcome(s) an earlier sender received but had not yet stored" in out
    assert f"{on_the_wire}: its sender stopped while sending; it is now unknown" in out + err
    assert "1 sent" in out
    assert len(handler.arrivals) == 1 and outbox.load(never_left).state == State.SENT
    assert outbox.load(answered).state == State.SENT
