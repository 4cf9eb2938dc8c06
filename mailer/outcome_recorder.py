"""Recording outcomes in groups: what the server answered goes into the outbox a batch at a time,
in a background task, while the connections go on with the next messages.

The answer is already in the run ledger (written the moment it came), so a sender killed before
its batch reaches the outbox loses nothing: the next sender's recovery records it from there.
Messages given back unsent (the run stopped, the server refused the sender) go the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from mailer.asyncio_support import through_cancellation
from mailer.outbox_writer import OutboxWriter
from mailer.run_writes import Change, Recorded
from mailer.sending.delivery import Outcome, TransactionResult
from mailer.sending.plan import NOT_SENT, SendEvent, SendReport

__all__ = ["OutcomeRecorder"]

# A commit waits until this many changes are waiting, or the oldest has waited _MAX_DELAY
# seconds: each commit has a fixed cost, so fewer, fuller ones spare the CPU (the answers are in
# the ledger meanwhile); with four connections on two cores, 128 instead of 64 made a send of
# 5000 about 3 % faster. Beyond twice as many waiting, connections wait for the recorder:
# memory stays bounded when the disk is slower than the network.
_BATCH = 128
_MAX_DELAY = 0.1


@dataclass(frozen=True)
class _Waiting:
    change: Change
    refused: list[str]  # addresses the server refused, for a message sent to the others


class OutcomeRecorder:
    """Commits outcomes and give-backs of one run, in order, a batch at a time."""

    def __init__(
        self,
        writer: OutboxWriter,
        report: SendReport,
        tell: Callable[[SendEvent], None],
    ) -> None:
        self._writer = writer
        self._report = report
        self._tell = tell
        self._waiting: list[_Waiting] = []
        self._committing: asyncio.Task[None] | None = None
        self._full = asyncio.Event()  # a batch is full: commit without waiting longer
        self._draining = False
        self._room = asyncio.Event()
        self._room.set()
        self.failure: Exception | None = None

    def record(self, message_id: str, result: TransactionResult) -> None:
        """Queue the outcome of one attempt."""
        refused = sorted(result.refused) if result.outcome == Outcome.SENT else []
        self._add(_Waiting(Change(message_id, result), refused))

    def give_back(self, message_id: str, why: str) -> None:
        """Queue a claimed message to go back to `approved`, unsent, no attempt counted."""
        self._report.skipped[NOT_SENT] += 1
        self._add(_Waiting(Change(message_id, why), []))

    def _add(self, waiting: _Waiting) -> None:
        self._waiting.append(waiting)
        if len(self._waiting) >= 2 * _BATCH:
            self._room.clear()
        if self._committing is None:
            self._committing = asyncio.create_task(self._commit_all())
        elif len(self._waiting) >= _BATCH:
            self._full.set()

    async def room(self) -> None:
        """Wait while too many changes wait for the disk."""
        await self._room.wait()

    async def _commit_all(self) -> None:
        try:
            while self._waiting and self.failure is None:
                if len(self._waiting) < _BATCH and not self._draining:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._full.wait(), _MAX_DELAY)
                self._full.clear()
                batch, self._waiting = self._waiting[:_BATCH], self._waiting[_BATCH:]
                if len(self._waiting) < 2 * _BATCH:
                    self._room.set()
                try:
                    results = await through_cancellation(
                        self._writer.commit([waiting.change for waiting in batch])
                    )
                except Exception as error:  # the disk: the run stops, the ledger keeps all
                    self.failure = error
                    self._room.set()
                    return
                for waiting, result in zip(batch, results, strict=True):
                    self._report_one(waiting, result)
        finally:
            self._committing = None

    def _report_one(self, waiting: _Waiting, result: Recorded | str) -> None:
        message_id = waiting.change.message_id
        if isinstance(result, str):
            self._report.skipped[f"outcome not recorded ({result})"] += 1
            return
        if not result.outcome:
            return  # given back: counted when queued
        self._report.add(message_id, result.outcome)
        if waiting.refused:
            self._report.partial[message_id] = waiting.refused
        self._tell(SendEvent(message_id, result.outcome, result.line))

    def hurry(self) -> None:
        """Commit from now on without waiting for fuller batches: nothing is left to send but
        what is on its way, so the run's end waits only for the last few outcomes."""
        self._draining = True
        self._full.set()

    async def drain(self) -> None:
        """Commit everything queued now and wait for it (or for the disk to fail)."""
        self.hurry()
        while self._committing is not None:
            await through_cancellation(asyncio.shield(self._committing))
