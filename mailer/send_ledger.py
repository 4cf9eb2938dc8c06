"""The run ledger: what one `mailer send` process did with the messages it claimed, line by line.

A sender claims messages a batch at a time and records outcomes a batch at a time (see
`sending`), so after a crash the outbox alone cannot tell a claimed message that never left from
one that was on the wire. The ledger can: right before DATA the sender appends "handing over",
and as soon as the server answers it appends the outcome. These lines are plain writes, not
fsynced, which costs microseconds: a process that is killed (SIGKILL, a crash) leaves its writes
in the kernel's page cache, where the next process reads them. Only a restart of the computer
can lose them, so a ledger is trusted to show what did *not* happen only while the computer has
not restarted since the claim (same boot ID); a line that is there is always true.

Lines name messages by ID; a reply may name an address, so the file is private (0600) like the
rest of the outbox and is removed once every message its run claimed has its outcome recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from mailer.clock import now_in_amsterdam
from mailer.durable import PRIVATE_FILE, private_directory
from mailer.outbox.store import Claim, Outbox
from mailer.sending.delivery import Outcome, TransactionResult

__all__ = [
    "LedgerRecord",
    "RunLedger",
    "current_boot_id",
    "ledger_runs",
    "read_ledger",
    "remove_ledger",
]

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # Linux: new on every start of the computer
_HANDING_OVER = "handing over"
_OUTCOME = "outcome"


def current_boot_id() -> str | None:
    """This boot of the computer, or None where the system does not tell."""
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def _runs_dir(outbox: Outbox) -> Path:
    return outbox.directory / "runs"


def _ledger_path(outbox: Outbox, run: str) -> Path:
    if not run.isalnum():  # run names become file names
        raise ValueError(f"not a run name: {run!r}")
    return _runs_dir(outbox) / f"{run}.jsonl"


class RunLedger:
    """The ledger this process writes during one send run; its claim goes on every message."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self.claim = Claim(
            pid=os.getpid(),
            host=socket.gethostname(),
            at=now_in_amsterdam(),
            run=secrets.token_hex(8),
            boot_id=current_boot_id(),
        )
        assert self.claim.run is not None
        self._path = _ledger_path(outbox, self.claim.run)
        private_directory(self._path.parent)
        self._descriptor: int | None = os.open(
            self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, PRIVATE_FILE
        )
        self._write({"claim": self.claim.model_dump(mode="json")})

    def _write(self, line: dict[str, object]) -> None:
        if self._descriptor is None:
            raise ValueError("the run ledger is closed")
        os.write(self._descriptor, json.dumps(line).encode("utf-8") + b"\n")

    def handing_over(self, message_id: str) -> None:
        """Written before DATA: from here on the message may arrive."""
        self._write({"id": message_id, "event": _HANDING_OVER})

    def outcome(self, message_id: str, result: TransactionResult) -> None:
        """Written as soon as the server's answer is known, before the outbox records it."""
        self._write(
            {
                "id": message_id,
                "event": _OUTCOME,
                "outcome": result.outcome.value,
                "reply": result.reply,
                "refused": result.refused,
                "connection_lost": result.connection_lost,
            }
        )

    def close(self, *, finished: bool) -> None:
        """Stop writing; `finished`: every claim of this run is recorded in the outbox, so the
        ledger is no longer needed (else it stays for the next sender's recovery)."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
        if finished:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()


@dataclass
class LedgerRecord:
    """What a ledger says about its run's messages."""

    claim: Claim
    handed_over: set[str] = field(default_factory=set)
    outcomes: dict[str, TransactionResult] = field(default_factory=dict)

    def shows_complete_history(self) -> bool:
        """Whether a message missing from this ledger surely never left: true while the
        computer has not restarted since the run began (the page cache still holds every
        line the run wrote)."""
        boot = current_boot_id()
        return boot is not None and self.claim.boot_id == boot


def read_ledger(outbox: Outbox, run: str) -> LedgerRecord | None:
    """The ledger of a run, or None if there is none (or it cannot be read)."""
    try:
        with _ledger_path(outbox, run).open("r", encoding="utf-8") as handle:
            lines = [json.loads(line) for line in handle if line.endswith("\n")]
    except (OSError, ValueError):
        return None
    if not lines or "claim" not in lines[0]:
        return None
    record = LedgerRecord(claim=Claim.model_validate(lines[0]["claim"]))
    for line in lines[1:]:
        message_id = str(line.get("id", ""))
        if line.get("event") == _HANDING_OVER:
            record.handed_over.add(message_id)
        elif line.get("event") == _OUTCOME:
            record.outcomes[message_id] = TransactionResult(
                Outcome(line["outcome"]),
                str(line["reply"]),
                refused=dict(line.get("refused") or {}),
                connection_lost=bool(line.get("connection_lost")),
            )
    return record


def ledger_runs(outbox: Outbox) -> Iterator[str]:
    """The runs that left a ledger in this outbox."""
    folder = _runs_dir(outbox)
    if folder.is_dir():
        for entry in os.scandir(folder):
            if entry.name.endswith(".jsonl") and entry.name[: -len(".jsonl")].isalnum():
                yield entry.name[: -len(".jsonl")]


def remove_ledger(outbox: Outbox, run: str, if_older_than: timedelta | None = None) -> None:
    path = _ledger_path(outbox, run)
    with contextlib.suppress(FileNotFoundError):
        if if_older_than is not None:
            age = time.time() - path.stat().st_mtime
            if age < if_older_than.total_seconds():
                return
        path.unlink()
