"""Messages left `sending` by a sender that died become `unknown` (the claim is made just before
DATA); a claim from another computer is honoured until its lease runs out."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from mailer.clock import now_in_amsterdam
from mailer.errors import OutboxError
from mailer.outbox.store import Outbox, State, StoredMessage
from mailer.sending.claims import (
    ToSend,
    claim_request,
    new_claim,
    read_for_sending,
    why_not_claimed,
)
from mailer.sending.run import plan_send
from mailer.workspace import Workspace
from tests.conftest import open_outbox
from tests.smtp_servers import RecordingHandler, approved_outbox
from tests.test_sending import serve  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("outbox_engine", "english")

# A sender that claims a message (as it does right before DATA) and dies on the spot (no
# `finally`, no exit handlers): what SIGKILL or a crash leaves behind.
DEAD_SENDER = """
import os, sys
from pathlib import Path
from mailer.config import load_settings
from mailer.outbox.store import Outbox, StoredMessage
from mailer.sending.claims import claim_request, new_claim, read_for_sending
from mailer.workspace import find_workspace
workspace = find_workspace(Path(sys.argv[1]))
outbox = Outbox.of_workspace(workspace, load_settings(workspace.root))
to_send = read_for_sending(outbox, sys.argv[2])
(claimed,) = outbox.transition_many([claim_request(to_send, "dead sender", new_claim())])
assert isinstance(claimed, StoredMessage)
os._exit(9)
"""


def die_while_sending(workspace: Workspace, message_id: str) -> None:
    process = subprocess.run(
        [sys.executable, "-c", DEAD_SENDER, str(workspace.root), message_id],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 9, process.stderr


def take(outbox: Outbox, message_id: str, by: str) -> StoredMessage | OutboxError:
    """Read a message for sending and claim it, as a sender does around MAIL, RCPT and DATA."""
    to_send = read_for_sending(outbox, message_id)
    assert isinstance(to_send, ToSend), to_send
    (claimed,) = outbox.transition_many([claim_request(to_send, by, new_claim())])
    return claimed


def test_a_dead_senders_message_becomes_unknown(workspace: Workspace) -> None:
    on_the_wire, untouched = approved_outbox(workspace, 2)
    die_while_sending(workspace, on_the_wire)
    outbox = open_outbox(workspace)
    assert outbox.load(on_the_wire).state == State.SENDING
    plan = plan_send(outbox, recover_as="next sender")
    assert plan.recovered == [on_the_wire]
    assert plan.planned == [untouched]
    unknown = outbox.load(on_the_wire)
    assert unknown.state == State.UNKNOWN and unknown.claim is None
    assert "it may or may not have arrived" in (unknown.last_error or "")
    assert outbox.journal(on_the_wire)[-1].by == "next sender"


def test_a_dry_run_recovers_nothing(workspace: Workspace) -> None:
    (on_the_wire,) = approved_outbox(workspace, 1)
    die_while_sending(workspace, on_the_wire)
    outbox = open_outbox(workspace)
    assert plan_send(outbox).recovered == []
    assert outbox.load(on_the_wire).state == State.SENDING


def test_a_live_senders_claim_is_left_alone(workspace: Workspace) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    outbox = open_outbox(workspace)
    assert isinstance(take(outbox, message_id, "this process"), StoredMessage)
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
    assert plan.recovered == [expired]
    assert outbox.load(fresh).state == State.SENDING


def test_a_claim_is_refused_when_the_message_changed_or_was_taken_since_it_was_read(
    workspace: Workspace,
) -> None:
    changed, taken = approved_outbox(workspace, 2)
    outbox = open_outbox(workspace)
    read = read_for_sending(outbox, changed)
    assert isinstance(read, ToSend)
    # Rendered again (and approved again) between MAIL FROM and DATA: other bytes now.
    outbox.transition(
        changed, State.APPROVED, by="x", new_bytes=read.data + b"\r\n", only_from=None
    )
    (refused,) = outbox.transition_many([claim_request(read, "slow sender", new_claim())])
    assert isinstance(refused, OutboxError)
    assert why_not_claimed(refused).endswith("changed after approval (approve again)")
    read_too = read_for_sending(outbox, taken)
    assert isinstance(read_too, ToSend)
    assert isinstance(take(outbox, taken, "fast sender"), StoredMessage)
    (lost,) = outbox.transition_many([claim_request(read_too, "slow sender", new_claim())])
    assert isinstance(lost, OutboxError) and why_not_claimed(lost) == "taken by another sender"


def test_send_says_what_it_found_of_a_dead_sender(
    workspace: Workspace,
    run_cli: Any,
    serve: Any,  # noqa: F811
) -> None:
    on_the_wire, waiting = approved_outbox(workspace, 2)
    die_while_sending(workspace, on_the_wire)
    handler = RecordingHandler()
    serve(handler)

    code, out, err = run_cli("send", "--yes")

    assert code == 1, (out, err)  # an unknown message needs a person
    assert f"{on_the_wire}: its sender stopped while sending; it is now unknown" in out + err
    assert "1 sent" in out
    outbox = open_outbox(workspace)
    assert len(handler.arrivals) == 1 and outbox.load(waiting).state == State.SENT
