"""The send run: approved messages out over SMTP, each at most once, every outcome recorded.

A run first marks messages left in `sending` by a dead process as `unknown`. Then each of K
workers takes the next planned ID, gets its connection ready, waits for the rate limit, and only
then claims the message (`approved` -> `sending`, under its lock, re-checking the approved bytes
and the recipients) and sends it: a stopped or killed run leaves at most K messages `sending`.
Outcomes are recorded in threads, overlapping with the next message. Progress goes to a callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiosmtplib

from mailer.config import Settings
from mailer.delivery import Outcome, TransactionResult, deliver
from mailer.errors import OutboxError
from mailer.outbox import Outbox
from mailer.rate_limit import RateLimiter
from mailer.send_plan import (
    NOT_SENT,
    ProgressCallback,
    SendEvent,
    SendReport,
    plan_send,
    recover_stale,
)
from mailer.send_records import Claimed, claim_message, record_result, release
from mailer.smtp_client import SmtpError, check_security, connect

__all__ = [
    "NOT_SENT",
    "ProgressCallback",
    "SendEvent",
    "SendInterrupted",
    "SendReport",
    "plan_send",
    "recover_stale",
    "send_approved",
]

_T = TypeVar("_T")


class SendInterrupted(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP) ended the run, handled like Ctrl-C: messages not yet on
    their way were given back, the one being handed over has its outcome recorded."""


@dataclass
class _Run:
    outbox: Outbox
    settings: Settings
    by: str
    report: SendReport
    progress: ProgressCallback | None
    limiter: RateLimiter
    ids: Iterator[str]
    recording: asyncio.Semaphore
    sender: str
    records: set[asyncio.Task[None]] = field(default_factory=set)
    signal_name: str | None = None

    def stop(self, reason: str) -> None:
        if self.report.stopped is None:
            self.report.stopped = reason

    def next_id(self) -> str | None:
        """The next planned message nobody has taken, or None when the run is over."""
        return None if self.report.stopped else next(self.ids, None)

    def tell(self, event: SendEvent) -> None:
        if self.progress:
            self.progress(event)


async def _through_cancellation(future: Awaitable[_T]) -> _T:
    """The result of `future`, waiting for it even when this task is cancelled meanwhile (a
    thread cannot be stopped, a message on the wire should finish). The caller re-raises: a
    cancelled task still has `cancelling()` set after this returns."""
    task = asyncio.ensure_future(future)
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            continue
    return task.result()


def _cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _claim_in_thread(run: _Run, message_id: str) -> Claimed | str:
    claimed = await _through_cancellation(
        asyncio.to_thread(claim_message, run.outbox, message_id, run.by)
    )
    if _cancelled():
        if isinstance(claimed, Claimed):
            release(run.outbox, message_id, run.by, "the run was interrupted")
        raise asyncio.CancelledError
    return claimed


async def _record(run: _Run, claimed: Claimed, result: TransactionResult) -> None:
    outcome, detail = await _through_cancellation(
        asyncio.to_thread(record_result, run.outbox, claimed.stored, result, run.settings, run.by)
    )
    run.report.add(claimed.stored.id, outcome)
    if result.refused and outcome == Outcome.SENT:
        run.report.partial[claimed.stored.id] = sorted(result.refused)
    run.tell(SendEvent(claimed.stored.id, outcome, detail))


async def _record_in_background(run: _Run, claimed: Claimed, result: TransactionResult) -> None:
    """Record while the connection goes on with the next message; the semaphore bounds how
    many records wait."""
    try:
        await run.recording.acquire()
    except asyncio.CancelledError:
        await _record(run, claimed, result)
        raise
    task = asyncio.create_task(_record(run, claimed, result))
    run.records.add(task)

    def done(finished: asyncio.Task[None]) -> None:
        run.records.discard(finished)
        run.recording.release()

    task.add_done_callback(done)


async def _give_back(run: _Run, claimed: Claimed, why: str) -> None:
    await _through_cancellation(
        asyncio.to_thread(release, run.outbox, claimed.stored.id, run.by, why)
    )
    run.report.skipped[NOT_SENT] += 1


async def _conclude(run: _Run, claimed: Claimed, result: TransactionResult) -> None:
    """After the transaction: a problem of the server or the configuration stops the run and
    gives the message back; any other outcome is recorded."""
    if result.about_server:
        run.stop(result.reply)
        await _give_back(run, claimed, result.reply)
    else:
        await _record_in_background(run, claimed, result)


async def _interrupted(
    run: _Run,
    client: aiosmtplib.SMTP,
    claimed: Claimed,
    delivering: asyncio.Future[TransactionResult],
    on_wire: bool,
) -> None:
    """The run was interrupted during this message's transaction: before DATA the message goes
    back unsent; after DATA began the transaction is allowed to finish and its outcome is
    recorded (unknown if it is cut off after all)."""
    if not on_wire:
        delivering.cancel()
    try:
        result = await _through_cancellation(delivering)
    except asyncio.CancelledError:
        client.close()
        if not on_wire:
            await _give_back(run, claimed, "the run was interrupted")
            return
        reply = "the run was interrupted while the message was being handed over"
        result = TransactionResult(Outcome.UNKNOWN, reply, connection_lost=True)
    if result.about_server:
        await _give_back(run, claimed, result.reply)
    else:
        await _record(run, claimed, result)


async def _hand_over(
    run: _Run, client: aiosmtplib.SMTP, claimed: Claimed
) -> aiosmtplib.SMTP | None:
    """Send one claimed message; return the connection for the next one (None once closed)."""
    on_wire = False

    def handing_over() -> None:
        nonlocal on_wire
        on_wire = True

    delivering = asyncio.ensure_future(
        deliver(client, run.sender, list(claimed.stored.to), claimed.data, handing_over)
    )
    try:
        result = await asyncio.shield(delivering)
    except asyncio.CancelledError:
        await _interrupted(run, client, claimed, delivering, on_wire)
        raise
    except Exception:
        # Not an SMTP outcome (those are results): never leave the message `sending` for it.
        client.close()
        if not on_wire:
            await _give_back(run, claimed, "an unexpected error stopped the run")
        else:
            reply = "an unexpected error stopped the run while the message was being handed over"
            await _record(run, claimed, TransactionResult(Outcome.UNKNOWN, reply))
        raise
    await _conclude(run, claimed, result)
    return None if result.connection_lost else client


async def _send_one(
    run: _Run, client: aiosmtplib.SMTP | None, message_id: str
) -> aiosmtplib.SMTP | None:
    """One planned message: connection, rate limit, claim, transaction, in that order, so that
    a message is `sending` only while it is really about to go out."""
    if client is None:
        try:
            client = await connect(run.settings)
        except SmtpError as error:
            run.stop(str(error))
            run.report.skipped[NOT_SENT] += 1
            return None
    await run.limiter.acquire()
    if run.report.stopped:  # another connection stopped the run while this one waited
        run.report.skipped[NOT_SENT] += 1
        return client
    claimed = await _claim_in_thread(run, message_id)
    if isinstance(claimed, str):
        run.report.skipped[claimed] += 1
        return client
    return await _hand_over(run, client, claimed)


async def _close(client: aiosmtplib.SMTP) -> None:
    if _cancelled():
        client.close()
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, asyncio.CancelledError):
        client.close()


async def _worker(run: _Run) -> None:
    client: aiosmtplib.SMTP | None = None
    try:
        while (message_id := run.next_id()) is not None:
            client = await _send_one(run, client, message_id)
    finally:
        if client is not None:
            await _close(client)


@contextlib.contextmanager
def _stop_signals_cancel(run: _Run, numbers: Collection[signal.Signals]) -> Iterator[None]:
    """While the run lasts, these signals stop it as Ctrl-C does (asyncio cancels the main task
    on SIGINT); the handlers from before are put back afterwards."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(number: signal.Signals) -> None:
        run.signal_name = number.name
        if main is not None:
            main.cancel()

    for number in numbers:
        handler = signal.getsignal(number)
        try:
            loop.add_signal_handler(number, on_signal, number)
        except (RuntimeError, ValueError):  # not the main thread: leave signals alone
            continue
        previous[number] = handler
    try:
        yield
    finally:
        for number, handler in previous.items():
            loop.remove_signal_handler(number)
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(number, handler)


async def _send(run: _Run, connections: int, stop_signals: Collection[signal.Signals]) -> None:
    with _stop_signals_cancel(run, stop_signals):
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(connections):
                    group.create_task(_worker(run))
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None
        finally:
            while run.records:
                await _through_cancellation(asyncio.gather(*run.records))
    untouched = sum(1 for _ in run.ids)  # the run stopped before anyone took them
    if untouched:
        run.report.skipped[NOT_SENT] += untouched


def send_approved(
    outbox: Outbox,
    settings: Settings,
    *,
    by: str = "mailer send",
    connections: int = 1,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    plan: SendReport | None = None,
    limiter: RateLimiter | None = None,
    stop_signals: Collection[signal.Signals] = (),
) -> SendReport:
    """Send what `plan` (default: `plan_send` with recovery of stale claims) allows.

    A caller that passes its own `plan` made it with `recover_as` so stale claims are handled.
    `stop_signals` (e.g. SIGTERM, SIGHUP) end the run like Ctrl-C; the call then raises
    `SendInterrupted` (Ctrl-C itself raises KeyboardInterrupt).
    """
    if connections < 1:
        raise OutboxError("--connections must be 1 or more")
    check_security(settings)
    report = plan or plan_send(outbox, limit=limit, recover_as=by)
    run = _Run(
        outbox=outbox,
        settings=settings,
        by=by,
        report=report,
        progress=progress,
        limiter=limiter or RateLimiter(settings.rate_limit),
        ids=iter(list(report.planned)),
        recording=asyncio.Semaphore(2 * connections + 2),
        sender=settings.sender_address.addr_spec,  # a bad sender is found before any claim
    )
    try:
        asyncio.run(_send(run, connections, stop_signals))
    except asyncio.CancelledError:
        raise SendInterrupted(run.signal_name or "stopped") from None
    return report
