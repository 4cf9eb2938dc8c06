"""Messages left `sending` by a sender that died: given back when DATA never began, `unknown`
when it had; a claim from another computer is honoured until its lease runs out."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from mailer.clock import now_in_amsterdam
from mailer.outbox.store import Outbox, State
from mailer.sending.claims import claim_message, mark_handing_over, new_claim
from mailer.sending.run import plan_send
from mailer.workspace import Workspace
from tests.conftest import open_outbox
from tests.smtp_servers import RecordingHandler, approved_outbox
from tests.test_sending import serve  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("outbox_engine")

# A sender that claims two messages, begins handing the second over, and dies on the spot
# (no `finally`, no exit handlers): what SIGKILL or a crash leaves behind.
DEAD_SENDER = """
import os, sys
from pathlib import Path
from mailer.config import load_settings
from mailer.outbox.store import Outbox
from mailer.sending.claims import claim_message, mark_handing_over, new_claim
from mailer.workspace import find_workspace
workspace = find_workspace(Path(sys.argv[1]))
outbox = Outbox.of_workspace(workspace, load_settings(workspace.root))
never_left = claim_message(outbox, sys.argv[2], "dead sender", new_claim())
on_the_wire = claim_message(outbox, sys.argv[3], "dead sender", new_claim())
assert mark_handing_over(outbox, on_the_wire) is not None
os._exit(9)
"""


def die_while_sending(workspace: Workspace, never_left: str, on_the_wire: str) -> None:
    process = subprocess.run(
        [sys.executable, "-c", DEAD_SENDER, str(workspace.root), never_left, on_the_wire],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 9, process.stderr


def test_a_dead_senders_messages_are_given_back_or_marked_unknown(workspace: Workspace) -> None:
    never_left, on_the_wire, untouched = approved_outbox(workspace, 3)
    die_while_sending(workspace, never_left, on_the_wire)
    outbox = open_outbox(workspace)
    assert {outbox.load(i).state for i in (never_left, on_the_wire)} == {State.SENDING}
    plan = plan_send(outbox, recover_as="next sender")
    assert plan.recovery.given_back == [never_left]
    assert plan.recovered == [on_the_wire]
    assert plan.planned == [never_left, untouched]
    assert outbox.load(never_left).state == State.APPROVED
    unknown = outbox.load(on_the_wire)
    assert unknown.state == State.UNKNOWN and unknown.claim is None
    assert "it may or may not have arrived" in (unknown.last_error or "")
    notes = [entry.note for entry in outbox.journal(never_left)]
    assert notes[-1] == "not sent: the run stopped before this message"


def test_a_dry_run_recovers_nothing(workspace: Workspace) -> None:
    never_left, on_the_wire = approved_outbox(workspace, 2)
    die_while_sending(workspace, never_left, on_the_wire)
    outbox = open_outbox(workspace)
    plan = plan_send(outbox)
    assert plan.recovered == [] and plan.recovery.given_back == []
    assert {outbox.load(i).state for i in (never_left, on_the_wire)} == {State.SENDING}


def test_a_live_senders_claim_is_left_alone(workspace: Workspace) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    outbox = open_outbox(workspace)
    claimed = claim_message(outbox, message_id, "this process", new_claim())
    assert not isinstance(claimed, str)
    plan = plan_send(outbox, recover_as="another run")
    assert plan.recovered == [] and plan.planned == []
    assert outbox.load(message_id).state == State.SENDING


def claim_from_another_computer(outbox: Outbox, message_id: str, lease_left: timedelta) -> None:
    elsewhere = new_claim().model_copy(
        update={"host": "another-computer", "lease_until": now_in_amsterdam() + lease_left}
    )
    outbox.transition(message_id, State.SENDING, by="x", change=lambda _: {"claim": elsewhere})


def test_another_computers_claim_holds_until_its_lease_runs_out(workspace: Workspace) -> None:
    fresh, expired = approved_outbox(workspace, 2)
    outbox = open_outbox(workspace)
    claim_from_another_computer(outbox, fresh, timedelta(minutes=5))
    claim_from_another_computer(outbox, expired, -timedelta(seconds=1))
    plan = plan_send(outbox, recover_as="next sender")
    assert plan.recovery.given_back == [expired]
    assert outbox.load(fresh).state == State.SENDING


def test_a_mark_is_refused_once_another_sender_took_the_message_over(
    workspace: Workspace,
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    outbox = open_outbox(workspace)
    slow = claim_message(outbox, message_id, "slow sender", new_claim())
    assert not isinstance(slow, str)
    # Its lease ran out (a laptop that slept); another sender recovered and claimed it.
    outbox.transition(
        message_id,
        State.APPROVED,
        by="recovery",
        change=lambda _: {"claim": None},
    )
    assert not isinstance(claim_message(outbox, message_id, "other", new_claim()), str)
    assert mark_handing_over(outbox, slow) is None


def test_send_says_what_it_took_over_from_a_dead_sender(
    workspace: Workspace,
    run_cli: Any,
    serve: Any,  # noqa: F811
) -> None:
    never_left, on_the_wire = approved_outbox(workspace, 2)
    die_while_sending(workspace, never_left, on_the_wire)
    handler = RecordingHandler()
    serve(handler)

    code, out, err = run_cli("send", "--yes")

    assert code == 1, (out, err)  # an unknown message needs a person
    assert "1 message(s) an earlier sender had claimed but not yet handed over" in out
    assert f"{on_the_wire}: its sender stopped while sending; it is now unknown" in out + err
    assert "1 sent" in out
    outbox = open_outbox(workspace)
    assert len(handler.arrivals) == 1 and outbox.load(never_left).state == State.SENT
