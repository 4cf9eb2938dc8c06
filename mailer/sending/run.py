"""The send run: approved messages out over SMTP, each at most once, every outcome recorded.

A run first recovers messages left in `sending` by a dead process (`recovery`). Then each of K
connections takes the next claimed message from the claim pool (claimed ahead, a batch at a
time: `claim_pool`), waits for the rate limit, and sends it. The run ledger (`send_ledger`)
gets a line right before DATA and one with the server's answer; outcomes reach the outbox a
batch at a time (`outcome_recorder`). A stopped run gives back every message that did not
start; a killed one leaves the ledger from which the next run knows which ones did.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import aiosmtplib

from mailer.asyncio_support import cancelled, through_cancellation
from mailer.asyncio_support import run as run_loop
from mailer.claim_pool import ClaimPool
from mailer.config import Settings
from mailer.errors import OutboxError
from mailer.outbox.store import Outbox
from mailer.outbox_writer import start_writer
from mailer.outcome_recorder import OutcomeRecorder
from mailer.run_writes import RunWrites, ToSend
from mailer.send_ledger import RunLedger
from mailer.sending.delivery import Outcome, TransactionResult, deliver
from mailer.sending.plan import (
    NOT_SENT,
    ProgressCallback,
    SendEvent,
    SendReport,
    plan_send,
)
from mailer.sending.rate_limit import RateLimiter
from mailer.sending.smtp_client import SmtpError, check_security, connect

__all__ = [
    "NOT_SENT",
    "ProgressCallback",
    "SendEvent",
    "SendInterrupted",
    "SendReport",
    "plan_send",
    "send_approved",
]

# Claimed ahead per connection: enough for one commit to cover several messages of every
# connection, few enough that a run on a computer that loses power leaves few `unknown` (at
# most about two batches; a week's intakes usually fit in one anyway). With four connections
# on two cores, batches of 64 instead of 32 made a send of 5000 about 3 % faster.
_CLAIMS_AHEAD_PER_CONNECTION = 16
_MAX_CLAIM_BATCH = 64


class SendInterrupted(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP) ended the run, handled like Ctrl-C: messages not yet on
    their way were given back, the one being handed over has its outcome recorded."""


@dataclass
class _Run:
    settings: Settings
    report: SendReport
    limiter: RateLimiter
    ledger: RunLedger
    claims: ClaimPool
    recorder: OutcomeRecorder
    sender: str
    signal_name: str | None = None

    def stop(self, reason: str) -> None:
        if self.report.stopped is None:
            self.report.stopped = reason

    def record(self, claimed: ToSend, result: TransactionResult) -> None:
        """The server's answer: into the ledger at once, into the outbox with the next batch."""
        self.ledger.outcome(claimed.message_id, result)
        self.recorder.record(claimed.message_id, result)


async def _interrupted(
    run: _Run,
    client: aiosmtplib.SMTP,
    claimed: ToSend,
    delivering: asyncio.Future[TransactionResult],
    on_wire: bool,
) -> None:
    """The run was interrupted during this message's transaction: before DATA the message goes
    back unsent; after DATA began the transaction is allowed to finish and its outcome is
    recorded (unknown if it is cut off after all)."""
    if not on_wire:
        delivering.cancel()
    try:
        result = await through_cancellation(delivering)
    except asyncio.CancelledError:
        client.close()
        if not on_wire:
            run.recorder.give_back(claimed.message_id, "the run was interrupted")
            return
        reply = "the run was interrupted while the message was being handed over"
        result = TransactionResult(Outcome.UNKNOWN, reply, connection_lost=True)
    _conclude(run, claimed, result)


def _conclude(run: _Run, claimed: ToSend, result: TransactionResult) -> None:
    """After the transaction: a problem of the server or the configuration stops the run and
    gives the message back; any other outcome is recorded."""
    if result.about_server:
        run.stop(result.reply)
        run.recorder.give_back(claimed.message_id, result.reply)
    else:
        run.record(claimed, result)


async def _hand_over(run: _Run, client: aiosmtplib.SMTP, claimed: ToSend) -> aiosmtplib.SMTP | None:
    """Send one claimed message; return the connection for the next one (None once closed)."""
    on_wire = False
    message_id = claimed.message_id

    def handing_over() -> None:
        nonlocal on_wire
        run.ledger.handing_over(message_id)  # before DATA: from here it may arrive
        on_wire = True

    delivering = asyncio.ensure_future(
        deliver(client, run.sender, list(claimed.recipients), claimed.data, handing_over)
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
            run.recorder.give_back(claimed.message_id, "an unexpected error stopped the run")
        else:
            reply = "an unexpected error stopped the run while the message was being handed over"
            run.record(claimed, TransactionResult(Outcome.UNKNOWN, reply))
        raise
    _conclude(run, claimed, result)
    return None if result.connection_lost else client


async def _close(client: aiosmtplib.SMTP) -> None:
    if cancelled():
        client.close()
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, asyncio.CancelledError):
        client.close()


async def _worker(run: _Run) -> None:
    """One connection: connect, then per message the rate limit, a claimed message, the
    transaction, until the pool is empty or the run stops."""
    client: aiosmtplib.SMTP | None = None
    try:
        while run.report.stopped is None:
            if client is None:
                try:
                    client = await connect(run.settings)
                except SmtpError as error:
                    run.stop(str(error))
                    return
            await run.recorder.room()
            if run.claims.ahead:
                claimed = await run.claims.take()
                if claimed is None:
                    run.recorder.hurry()
                    return
            else:
                message_id = run.claims.next_id()
                if message_id is None:
                    run.recorder.hurry()
                    return
                await run.limiter.acquire()
                if run.report.stopped is not None:  # stopped by another connection meanwhile
                    run.report.skipped[NOT_SENT] += 1
                    return
                claimed = await run.claims.claim_now(message_id)
                if claimed is None:
                    continue
            client = await _hand_over(run, client, claimed)
            if run.recorder.failure is not None:
                raise run.recorder.failure
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


async def _wind_down(run: _Run) -> bool:
    """Give back what was claimed and not started, and commit every outcome; return whether
    the outbox now holds everything the ledger knows."""
    for claimed in await run.claims.close():
        run.recorder.give_back(claimed.message_id, "the run stopped before this message")
    await run.recorder.drain()
    return run.recorder.failure is None


async def _send(run: _Run, connections: int, stop_signals: Collection[signal.Signals]) -> None:
    finished = False
    with _stop_signals_cancel(run, stop_signals):
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(connections):
                    group.create_task(_worker(run))
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None
        finally:
            finished = await through_cancellation(_wind_down(run))
            run.ledger.close(finished=finished)
    if run.recorder.failure is not None:
        raise run.recorder.failure


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
    report = plan or plan_send(outbox, limit=limit, recover_as=by, settings=settings)
    sender = settings.sender_address.addr_spec  # a bad sender is found before any claim
    limiter = limiter or RateLimiter(settings.rate_limit)
    ids = iter(list(report.planned))
    ledger = RunLedger(outbox)
    writer = start_writer(RunWrites(outbox, settings, by, ledger.claim))
    run = _Run(
        settings=settings,
        report=report,
        limiter=limiter,
        ledger=ledger,
        claims=ClaimPool(
            writer,
            ids,
            report.skipped,
            batch=min(_CLAIMS_AHEAD_PER_CONNECTION * connections, _MAX_CLAIM_BATCH),
            first_batch=connections,
            ahead=not limiter.interval,
        ),
        recorder=OutcomeRecorder(writer, report, progress or _no_progress),
        sender=sender,
    )
    try:
        run_loop(_send(run, connections, stop_signals))
    except asyncio.CancelledError:
        raise SendInterrupted(run.signal_name or "stopped") from None
    finally:
        writer.close()
        untouched = sum(1 for _ in ids)  # the run stopped before anyone took them
        if untouched:
            report.skipped[NOT_SENT] += untouched
    return report


def _no_progress(_: SendEvent) -> None:
    pass
