"""Claiming ahead: the messages a send run has taken and not yet started, refilled a batch at a
time so that no connection waits for a claim to reach the disk.

A batch of claims costs about as much disk work as one claim (`Outbox.transition_many`). Claims
are made in a background task while the connections send; a connection only waits when the
pool is empty. A claimed message that has not started is safe to hold: a run that stops gives
it back, and a run that is killed leaves it for the next sender, whose recovery sees in the run
ledger that it was never handed over (see `recovery`).

With a rate limit nothing is claimed ahead: each message is claimed when its slot comes, so a
slow run does not keep messages `sending` while they wait.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Iterator
from itertools import islice

from mailer.asyncio_support import cancelled, through_cancellation
from mailer.outbox_writer import OutboxWriter
from mailer.run_writes import ToSend

__all__ = ["ClaimPool"]


class ClaimPool:
    """Claimed messages ready to send, taken from `ids` in order."""

    def __init__(
        self,
        writer: OutboxWriter,
        ids: Iterator[str],
        skipped: Counter[str],
        *,
        batch: int,
        ahead: bool,
        first_batch: int = 1,
    ) -> None:
        self._writer = writer
        self._ids = ids
        self._skipped = skipped  # reason -> count, for messages that could not be claimed
        self._batch = batch
        # The first claims are few, so that sending starts after a few fsyncs rather than a whole
        # batch of them (about a third of a millisecond each); each next batch is four times
        # larger, up to `batch`.
        self._next_batch = min(max(first_batch, 1), batch)
        self.ahead = ahead
        self._ready: deque[ToSend] = deque()
        self._filling: asyncio.Task[None] | None = None
        self._exhausted = False
        self._failure: Exception | None = None
        self.closed = False

    def next_id(self) -> str | None:
        """Without claiming ahead: the next message to claim once its turn comes."""
        return None if self.closed else next(self._ids, None)

    async def claim_now(self, message_id: str) -> ToSend | None:
        """Without claiming ahead: claim this one message now (None: it could not be)."""
        await through_cancellation(self._fill([message_id]))
        if cancelled():  # the claim stays in the pool, which the run gives back when it stops
            raise asyncio.CancelledError
        if self._failure is not None:
            raise self._failure
        return self._ready.popleft() if self._ready else None

    async def take(self) -> ToSend | None:
        """Claiming ahead: the next claimed message, or None when there is nothing more."""
        while not self.closed:
            if self._failure is not None:
                raise self._failure
            if self._ready:
                claimed = self._ready.popleft()
                if len(self._ready) < self._batch:
                    self._start_filling()
                return claimed
            if self._exhausted and self._filling is None:
                return None
            self._start_filling()
            if self._filling is not None:
                # Shielded: a connection that is cancelled while it waits must not cancel a
                # commit of claims that other connections (and the clean-up) rely on.
                await asyncio.shield(self._filling)
        return None

    def _start_filling(self) -> None:
        if self._filling is not None or self._exhausted or self.closed:
            return
        ids = list(islice(self._ids, self._next_batch))
        self._next_batch = min(self._next_batch * 4, self._batch)
        if not ids:
            self._exhausted = True
            return
        self._filling = asyncio.create_task(self._fill(ids))

    async def _fill(self, ids: list[str]) -> None:
        try:
            results = await through_cancellation(self._writer.claim(ids))
        except Exception as error:  # a disk problem: the connection that takes next reports it
            self._failure = error
            results = []
        finally:
            self._filling = None
        for result in results:
            if isinstance(result, ToSend):
                self._ready.append(result)
            else:
                self._skipped[result] += 1

    async def close(self) -> list[ToSend]:
        """Stop claiming; return what was claimed and not taken (to be given back)."""
        self.closed = True
        while self._filling is not None:
            await through_cancellation(asyncio.shield(self._filling))
        left = list(self._ready)
        self._ready.clear()
        return left
