"""Several `mailer send` processes at once, and senders killed with SIGKILL mid-run: no message is
delivered twice unless it is marked unknown, and none is lost. Real subprocesses, real server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path

import pytest

from mailer.outbox.store import Outbox, State
from mailer.send_ledger import ledger_runs
from mailer.workspace import Workspace
from tests.smtp_servers import RecordingHandler, approved_outbox, smtp_env, smtp_server

REPOSITORY = Path(__file__).resolve().parent.parent


def start_sender(workspace: Workspace, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailer", "send", "--yes", *extra, "--home", str(workspace.root)],
        env={**os.environ, **env},
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def arrived_message_ids(handler: RecordingHandler) -> Counter[str]:
    return Counter(str(message_from_bytes(a.content)["Message-ID"]) for a in handler.arrivals)


def test_three_concurrent_senders_deliver_each_message_exactly_once(
    workspace: Workspace,
) -> None:
    ids = approved_outbox(workspace, 150)
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        env = smtp_env(server)
        senders = [start_sender(workspace, env, "--connections", "2") for _ in range(3)]
        results = [sender.communicate(timeout=120) for sender in senders]
    assert [sender.returncode for sender in senders] == [0, 0, 0], results
    outbox = Outbox(workspace.outbox_dir)
    arrived = arrived_message_ids(handler)
    assert len(handler.arrivals) == 150
    assert set(arrived.values()) == {1}
    assert {outbox.load(message_id).state for message_id in ids} == {State.SENT}
    # The work was shared: more than one process sent messages.
    assert sum(1 for out, _ in results if "sent" in out.split("\n", 1)[0]) >= 1


def test_repeated_sigkill_never_delivers_twice_and_loses_nothing(workspace: Workspace) -> None:
    ids = approved_outbox(workspace, 60)
    handler = RecordingHandler(data_delay=0.02)  # slow enough to be killed mid-run
    outbox = Outbox(workspace.outbox_dir)
    with smtp_server(handler) as server:
        env = smtp_env(server)
        for round_number in range(3):
            sender = start_sender(workspace, env, "--connections", "2")
            wanted = len(handler.arrivals) + 5 + round_number
            deadline = time.monotonic() + 30
            while len(handler.arrivals) < wanted and sender.poll() is None:
                assert time.monotonic() < deadline, "the sender made no progress"
                time.sleep(0.01)
            sender.send_signal(signal.SIGKILL)
            sender.communicate(timeout=30)
        handler.data_delay = 0
        final = start_sender(workspace, env)
        final.communicate(timeout=120)
    states = Counter(outbox.load(message_id).state for message_id in ids)
    arrived = arrived_message_ids(handler)
    # Never twice, whatever the state.
    assert max(arrived.values()) == 1
    # Nothing lost or stuck: every message ended sent or unknown (for a person to decide).
    assert set(states) <= {State.SENT, State.UNKNOWN}
    # Only a message on the wire when its sender died can be unknown: one per connection per
    # kill at most. Messages claimed ahead and not started were given back by the ledger.
    assert states[State.UNKNOWN] <= 3 * 2
    assert list(ledger_runs(outbox)) == []  # the dead senders' ledgers were used up
    for message_id in ids:
        stored = outbox.load(message_id)
        if stored.state == State.SENT:
            assert arrived[stored.message_id] == 1


def test_ctrl_c_gives_back_what_was_not_yet_on_its_way(workspace: Workspace) -> None:
    ids = approved_outbox(workspace, 20)
    handler = RecordingHandler(data_delay=0.05)
    outbox = Outbox(workspace.outbox_dir)
    with smtp_server(handler) as server:
        sender = start_sender(workspace, smtp_env(server), "--connections", "2")
        deadline = time.monotonic() + 30
        while len(handler.arrivals) < 4:
            assert time.monotonic() < deadline and sender.poll() is None
            time.sleep(0.01)
        sender.send_signal(signal.SIGINT)
        out, err = sender.communicate(timeout=30)
    assert sender.returncode == 130, (out, err)
    assert "Interrupted" in out + err
    states = Counter(outbox.load(message_id).state for message_id in ids)
    # The messages on the wire were finished and recorded, the rest given back: nothing stays
    # claimed, and nothing arrived twice.
    assert states[State.APPROVED] >= 1
    assert set(states) <= {State.SENT, State.APPROVED}
    assert max(arrived_message_ids(handler).values()) == 1


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stopped_sender_gives_back_every_message_that_did_not_leave(
    workspace: Workspace, stop: signal.Signals
) -> None:
    ids = approved_outbox(workspace, 4)
    handler = RecordingHandler()
    outbox = Outbox(workspace.outbox_dir)
    with smtp_server(handler) as server:
        # 6 a minute: the first message goes at once, the next waits ten seconds for its slot.
        env = smtp_env(server, MAILER_RATE_LIMIT="6")
        sender = start_sender(workspace, env, "--connections", "2")
        deadline = time.monotonic() + 30
        while not handler.arrivals or not any(
            outbox.load(message_id).state == State.SENT for message_id in ids
        ):
            assert time.monotonic() < deadline and sender.poll() is None, "no progress"
            time.sleep(0.01)
        sender.send_signal(stop)
        out, err = sender.communicate(timeout=30)
        assert sender.returncode == 130, (out, err)
        assert f"Interrupted by {stop.name}" in err and "Traceback" not in err
        states = Counter(outbox.load(message_id).state for message_id in ids)
        # Only the message that went out was claimed: the others are approved as before.
        assert states == {State.SENT: 1, State.APPROVED: 3}
        again = start_sender(workspace, smtp_env(server))
        out, err = again.communicate(timeout=60)
    assert again.returncode == 0, (out, err)
    assert {outbox.load(message_id).state for message_id in ids} == {State.SENT}
    assert len(handler.arrivals) == 4 and set(arrived_message_ids(handler).values()) == {1}


def test_a_closed_output_pipe_ends_quietly_with_every_outcome_recorded(
    workspace: Workspace,
) -> None:
    ids = approved_outbox(workspace, 30)
    handler = RecordingHandler(data_delay=0.02)
    outbox = Outbox(workspace.outbox_dir)
    with smtp_server(handler) as server:
        sender = start_sender(workspace, smtp_env(server))
        assert sender.stdout is not None and sender.stderr is not None
        sender.stdout.readline()  # like `mailer send --yes | head -1`: read one line, leave
        sender.stdout.close()
        with sender.stderr:
            err = sender.stderr.read()
        sender.wait(timeout=60)
    assert sender.returncode == 0, err
    assert err == ""  # no BrokenPipeError traceback, no "Exception ignored"
    assert {outbox.load(message_id).state for message_id in ids} == {State.SENT}
    assert len(handler.arrivals) == 30
