"""A `mailer queue` killed with SIGKILL at any moment leaves a consistent outbox, and running it
again completes the work without a second message for any record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from mailer.outbox.store import Outbox, sha256_hex
from mailer.workspace import Workspace
from tests.conftest import intake_row, write_csv

ROWS = 150


def queue_command(workspace: Workspace, intakes: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mailer",
        "queue",
        str(intakes),
        "--home",
        str(workspace.root),
        "--by",
        "Coach",
    ]


def wait_for_messages(outbox: Outbox, at_least: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(2000):  # bounded: at most about 20 s
        if process.poll() is not None or len(outbox.ids()) >= at_least:
            return
        time.sleep(0.01)


def assert_consistent(outbox: Outbox) -> None:
    for message_id in outbox.ids():
        stored = outbox.load(message_id)  # every visible metadata file parses
        assert sha256_hex(outbox.read_bytes(message_id)) == stored.sha256
    keys = Counter(outbox.load(message_id).record_key for message_id in outbox.ids())
    assert all(count == 1 for count in keys.values())


def test_killed_queue_leaves_a_consistent_outbox_and_a_rerun_completes_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    rows = [intake_row(id=f"PL-{n}", child_name=f"Kind {n}") for n in range(ROWS)]
    intakes = write_csv(tmp_path / "intakes.csv", rows)
    outbox = Outbox(workspace.outbox_dir)
    for stop_after in (5, 60):
        process = subprocess.Popen(
            queue_command(workspace, intakes), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_messages(outbox, stop_after, process)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert_consistent(outbox)
    final = subprocess.run(
        queue_command(workspace, intakes), capture_output=True, text=True, check=False
    )
    assert final.returncode == 0, final.stderr
    assert_consistent(outbox)
    assert len(outbox.ids()) == ROWS
