"""Several `mailer send` processes at once, and senders killed with SIGKILL mid-run: no message is
delivered twice, none is lost, and readers never see a half-written outbox. Real subprocesses, a
real SMTP server, and both database engines."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select

from mailer.outbox.schema import send_reservations
from mailer.outbox.store import State
from mailer.workspace import Workspace
from tests.conftest import open_outbox
from tests.smtp_servers import RecordingHandler, approved_outbox, smtp_env, smtp_server

# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


REPOSITORY = Path(__file__).resolve().parent.parent
SENT_COUNT = re.compile(r"^(\d+) sent, ", re.MULTILINE)


def start_mailer(workspace: Workspace, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailer", *args, "--home", str(workspace.root)],
        env={**os.environ, **env},
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_sender(workspace: Workspace, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return start_mailer(workspace, env, "send", "--yes", *extra)


def arrived_message_ids(handler: RecordingHandler) -> Counter[str]:
    return Counter(str(message_from_bytes(a.content)["Message-ID"]) for a in handler.arrivals)


@pytest.mark.usefixtures("outbox_engine")
def test_three_concurrent_senders_deliver_each_message_exactly_once(
    workspace: Workspace,
) -> None:
    ids = approved_outbox(workspace, 300)
    # Slow enough that the three runs overlap for a few seconds.
    handler = RecordingHandler(data_delay=0.01)
    with smtp_server(handler) as server:
        env = smtp_env(server)
        senders = [start_sender(workspace, env, "--connections", "2") for _ in range(3)]
        results = [sender.communicate(timeout=300) for sender in senders]
    assert [sender.returncode for sender in senders] == [0, 0, 0], results
    outbox = open_outbox(workspace)
    arrived = arrived_message_ids(handler)
    assert len(handler.arrivals) == 300
    assert set(arrived.values()) == {1}
    assert {outbox.load(message_id).state for message_id in ids} == {State.SENT}
    # Each process reports what it sent itself: together exactly every message, and the work
    # was shared between at least two of them.
    per_sender = [int(SENT_COUNT.search(out).group(1)) for out, _ in results]  # type: ignore[union-attr]
    assert sum(per_sender) == 300
    assert sum(1 for count in per_sender if count > 0) >= 2, per_sender


@pytest.mark.usefixtures("outbox_engine")
def test_senders_killed_at_random_moments_never_deliver_twice_and_lose_nothing(
    workspace: Workspace,
) -> None:
    ids = approved_outbox(workspace, 120)
    handler = RecordingHandler(data_delay=0.01)  # slow enough to be killed mid-run
    outbox = open_outbox(workspace)
    moments = random.Random(20261201)
    kills = 20
    with smtp_server(handler) as server:
        env = smtp_env(server)
        for _ in range(kills):
            sender = start_sender(workspace, env, "--connections", "2")
            # Kill while it starts, recovers, claims, or hands letters over.
            wanted = len(handler.arrivals) + moments.randint(0, 4)
            deadline = time.monotonic() + 60
            while len(handler.arrivals) < wanted and sender.poll() is None:
                assert time.monotonic() < deadline, "the sender made no progress"
                time.sleep(0.002)
            time.sleep(moments.uniform(0, 0.05))
            sender.send_signal(signal.SIGKILL)
            sender.communicate(timeout=30)
        handler.data_delay = 0
        final = start_sender(workspace, env)
        out, err = final.communicate(timeout=300)
    states = Counter(outbox.load(message_id).state for message_id in ids)
    arrived = arrived_message_ids(handler)
    # Never twice, whatever the state.
    assert max(arrived.values()) == 1
    # Nothing lost or stuck: every message ended sent, or unknown for a person to decide.
    assert set(states) <= {State.SENT, State.UNKNOWN}, (states, out, err)
    # Only a message claimed (just before DATA) when its sender died can be unknown: per
    # connection the one on the wire and the one before it, whose answer waits for that
    # claim's commit.
    assert states[State.UNKNOWN] <= kills * 2 * 2
    for message_id in ids:
        stored = outbox.load(message_id)
        if stored.state == State.SENT:
            assert arrived[stored.message_id] == 1


@pytest.mark.usefixtures("outbox_engine")
def test_listing_during_a_send_never_reports_damage(workspace: Workspace) -> None:
    approved_outbox(workspace, 80)
    handler = RecordingHandler(data_delay=0.01)
    listings = 0
    with smtp_server(handler) as server:
        env = smtp_env(server)
        sender = start_sender(workspace, env, "--connections", "2")
        while sender.poll() is None:
            lister = start_mailer(workspace, env, "list", "--json")
            out, err = lister.communicate(timeout=60)
            assert lister.returncode == 0, err
            assert "damaged" not in err
            assert len(json.loads(out)) == 80
            listings += 1
        sender.communicate(timeout=60)
    assert sender.returncode == 0
    assert listings >= 2
    assert len(handler.arrivals) == 80


def test_ctrl_c_gives_back_what_was_not_yet_on_its_way(workspace: Workspace) -> None:
    ids = approved_outbox(workspace, 20)
    handler = RecordingHandler(data_delay=0.05)
    outbox = open_outbox(workspace)
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
    outbox = open_outbox(workspace)
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
    outbox = open_outbox(workspace)
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


@pytest.mark.usefixtures("outbox_engine")
def test_two_concurrent_senders_share_one_pace_for_the_mailbox(workspace: Workspace) -> None:
    ids = approved_outbox(workspace, 30)
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        env = smtp_env(server, MAILER_RATE_LIMIT="600")  # one start every 0.1 s
        senders = [start_sender(workspace, env) for _ in range(2)]
        results = [sender.communicate(timeout=120) for sender in senders]
    assert [sender.returncode for sender in senders] == [0, 0], results
    assert set(arrived_message_ids(handler).values()) == {1} and len(handler.arrivals) == 30
    per_sender = [int(SENT_COUNT.search(out).group(1)) for out, _ in results]  # type: ignore[union-attr]
    assert sum(per_sender) == 30
    # The starts both processes took, as the outbox recorded them: one message each, and never
    # two within one interval of the shared pace, whichever process took them.
    outbox = open_outbox(workspace)
    with outbox.engine.connect() as connection:
        rows = connection.execute(
            select(send_reservations.c.message_id, send_reservations.c.at)
        ).all()
    assert sorted(row.message_id for row in rows) == sorted(ids)
    starts = sorted(row.at for row in rows)
    assert all(later - earlier >= 0.1 - 1e-6 for earlier, later in pairwise(starts))
