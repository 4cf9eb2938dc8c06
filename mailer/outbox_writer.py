"""Where a send run's outbox writes happen: in a child process of their own.

Claims and outcomes cost CPU: reading, checking, writing and syncing metadata files. Done in
threads of the sending process, that work took turns with the SMTP connections for Python's
interpreter lock, and every turn delayed a connection. In a child process it runs beside them,
on another core, while the connections wait for the server, and at a lower priority, so that
the connections get a processor first.

The child is forked when the run starts, before its event loop and connections exist, and
serves `RunWrites` over two pipes, claims on one and outcomes on the other, a batch at a time.
It ignores Ctrl-C and stop signals: the sender stops the run and then the child. If the sender
dies (SIGKILL), the child finishes the batches in hand, gives back the claims of a batch the
sender never received, and ends.
Where fork is not available, the same work runs in a thread of the sending process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from mailer.errors import OutboxError
from mailer.run_writes import Change, Recorded, RunWrites, ToSend

__all__ = ["WRITER_NICENESS", "OutboxWriter", "start_writer"]

_T = TypeVar("_T")
_CHILD_STOP_TIMEOUT = 30.0  # seconds for the child to finish its batch when the run ends

# The child's niceness, added to the sender's. Its work has slack (claims are made a batch
# ahead, outcomes wait in the run ledger) while every SMTP round trip waits for the sending
# process, and on a machine that also runs the server, for the server too. Scheduled below
# them, the writer takes the processor when they leave it: four-connection sends of 5000 on two
# cores (four interleaved pairs each) took 7 % less time at 10, as at 19, and 2 % at 5
# (SCHED_BATCH instead: 4 %). The price is paid when other programs keep every core busy: the
# writer then waits for them after each fsync, and with two busy loops on the two cores the same
# send took 21 s instead of 11 (one loop: 8.2 against 7.4 s). A real run waits for a remote
# server far longer than for its writer, so the idle machine is the case that counts.
WRITER_NICENESS = 10


@dataclass(frozen=True)
class _Failed:
    """A batch the child could not write (a full disk, a damaged file)."""

    text: str


class OutboxWriter:
    """Runs a send run's outbox writes in a thread; `start_writer` may give a process instead."""

    def __init__(self, writes: RunWrites) -> None:
        self._writes = writes

    async def claim(self, message_ids: Sequence[str]) -> list[ToSend | str]:
        return await asyncio.to_thread(_reported(self._writes.claim_batch), list(message_ids))

    async def commit(self, changes: Sequence[Change]) -> list[Recorded | str]:
        return await asyncio.to_thread(_reported(self._writes.commit), list(changes))

    def close(self) -> None:
        """Stop; nothing is written after this returns."""


class _Channel:
    """One pipe to the child, one request on it at a time."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.lock = threading.Lock()

    def call(self, request: tuple[str, list[Any]]) -> Any:
        with self.lock:
            try:
                self.connection.send(request)
                answer = self.connection.recv()
            except (EOFError, OSError):
                raise OutboxError(
                    "the outbox writer of this run stopped unexpectedly; run `mailer send` "
                    "again to go on"
                ) from None
        if isinstance(answer, _Failed):
            raise OutboxError(answer.text)
        return answer

    def close(self) -> None:
        with self.lock, contextlib.suppress(OSError):  # OSError: the child is gone already
            self.connection.send(None)


class _ProcessWriter(OutboxWriter):
    """Claims and commits have a pipe (and a thread in the child) each, so that a batch of
    claims never waits behind a batch of outcomes: each costs a round of fsyncs."""

    def __init__(self, writes: RunWrites) -> None:
        super().__init__(writes)
        context = multiprocessing.get_context("fork")
        claims, child_claims = context.Pipe()
        commits, child_commits = context.Pipe()
        # Buffered output would otherwise be written a second time by the child.
        sys.stdout.flush()
        sys.stderr.flush()
        # Everything alive now lives as long as the run. Frozen, it is left out of the garbage
        # collections of both processes until the run ends: the child's would otherwise walk
        # (and so copy) every page it shares with the sender, which the `gc.freeze`
        # documentation advises against for a fork without exec.
        gc.freeze()
        self._process = context.Process(
            target=_serve,
            args=((child_claims, child_commits), (claims, commits), writes, os.getpid()),
            name="mailer-outbox-writer",
            daemon=True,
        )
        self._process.start()
        child_claims.close()
        child_commits.close()
        self._claims = _Channel(claims)
        self._commits = _Channel(commits)

    async def claim(self, message_ids: Sequence[str]) -> list[ToSend | str]:
        answer: list[ToSend | str] = await asyncio.to_thread(
            self._claims.call, ("claim", list(message_ids))
        )
        return answer

    async def commit(self, changes: Sequence[Change]) -> list[Recorded | str]:
        answer: list[Recorded | str] = await asyncio.to_thread(
            self._commits.call, ("commit", list(changes))
        )
        return answer

    def close(self) -> None:
        self._claims.close()
        self._commits.close()
        self._process.join(_CHILD_STOP_TIMEOUT)
        if self._process.is_alive():  # stuck on the disk: the next run's recovery sorts it out
            self._process.kill()
            self._process.join()
        self._claims.connection.close()
        self._commits.connection.close()
        gc.unfreeze()


def _reported(write: Callable[[list[Any]], _T]) -> Callable[[list[Any]], _T]:
    """`write`, with a failure of the disk or the file system told as one OutboxError."""

    def reported(items: list[Any]) -> _T:
        try:
            return write(items)
        except OutboxError:
            raise
        except OSError as error:
            raise OutboxError(
                f"could not write to the outbox ({error.strerror or error}: "
                f"{error.filename or 'outbox'}); what was sent is kept in the run's ledger, "
                "so run `mailer send` again once this is solved"
            ) from error

    return reported


def start_writer(writes: RunWrites) -> OutboxWriter:
    """A writer for this run: a child process where fork exists (Linux), else a thread."""
    if "fork" in multiprocessing.get_all_start_methods():
        return _ProcessWriter(writes)
    return OutboxWriter(writes)


def _serve(
    connections: tuple[Connection, Connection],
    senders_ends: tuple[Connection, Connection],
    writes: RunWrites,
    sender_pid: int,
) -> None:
    """The child: answer claims and commits, each on its own pipe, until told to stop or the
    sender is gone."""
    # The fork copied the sender's ends of the pipes: without closing them here, a pipe would
    # stay open after the sender died, and this process would wait for it forever.
    for end in senders_ends:
        end.close()
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    os.nice(WRITER_NICENESS)
    claims, commits = connections
    committing = threading.Thread(target=_answer, args=(commits, writes, sender_pid))
    committing.start()
    _answer(claims, writes, sender_pid)
    committing.join()


def _answer(connection: Connection, writes: RunWrites, sender_pid: int) -> None:
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        kind, items = request
        answer: Any
        try:
            answer = _reported(writes.claim_batch if kind == "claim" else writes.commit)(items)
        except OutboxError as error:  # the sender reports it and stops the run
            answer = _Failed(str(error))
        if kind == "claim" and os.getppid() != sender_pid:
            _give_back(writes, answer)  # the sender died while they were being claimed
            return
        try:
            connection.send(answer)
        except OSError:
            if kind == "claim":
                _give_back(writes, answer)
            return


def _give_back(writes: RunWrites, claimed: Any) -> None:
    if isinstance(claimed, list):
        why = "its sender stopped before this message"
        writes.commit([Change(t.message_id, why) for t in claimed if isinstance(t, ToSend)])
