"""The send run: approved messages out over SMTP, each at most once, every outcome recorded.

The plan (`plan`) first recovers messages that a sender which is gone left `sending`. Then each
of K connections takes the next planned message, waits for the rate limit, claims it (a
committed transaction: `claims`), and sends it: MAIL and RCPT, a durable mark that DATA
begins, DATA (`delivery`). The server's answer is committed at once (`records`). A stopped run
gives back the message it had not begun handing over; one whose DATA began is allowed to
finish, and its outcome is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosmtplib

from mailer.config import Settings
from mailer.errors import OutboxError
from mailer.outbox.store import Outbox, StoredMessage
from mailer.sending.claims import Claimed, claim_message, mark_handing_over, new_claim
from mailer.sending.delivery import Outcome, TransactionResult, deliver
from mailer.sending.plan import NOT_SENT, ProgressCallback, SendEvent, SendReport, plan_send
from mailer.sending.rate_limit import RateLimiter
from mailer.sending.records import (
    TAKEN_BY_ANOTHER_SENDER,
    outcome_request,
    release_request,
)
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

_T = TypeVar("_T")


class SendInterrupted(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP) ended the run, handled like Ctrl-C: messages not yet on
    their way were given back, the one being handed over has its outcome recorded."""


@dataclass
class _Run:
    outbox: Outbox
    settings: Settings
    report: SendReport
    limiter: RateLimiter
    queue: Iterator[str]
    sender: str
    by: str
    progress: ProgressCallback
    signal_name: str | None = None

    def stop(self, reason: str) -> None:
        if self.report.stopped is None:
            self.report.stopped = reason

    def record(self, claimed: Claimed, result: TransactionResult) -> None:
        """Commit the server's answer about one claimed message."""
        request, outcome, line = outcome_request(claimed.stored, result, self.settings, self.by)
        (stored,) = self.outbox.transition_many([request])
        message_id = claimed.stored.id
        if not isinstance(stored, StoredMessage):
            self.report.skipped[f"outcome not recorded ({stored})"] += 1
            return
        self.report.add(message_id, outcome)
        if result.refused and result.outcome == Outcome.SENT:
            self.report.partial[message_id] = sorted(result.refused)
        self.progress(SendEvent(message_id, outcome, line))

    def give_back(self, claimed: Claimed, why: str) -> None:
        """Return a claimed message to `approved`, unsent, without counting an attempt."""
        self.report.skipped[NOT_SENT] += 1
        self.outbox.transition_many([release_request(claimed.stored, self.by, why)])


async def _through_cancellation(future: Awaitable[_T]) -> _T:
    """The result of `future`, waiting for it even when this task is cancelled meanwhile: a
    message on the wire and the commit of its outcome complete. The caller re-raises."""
    task = asyncio.ensure_future(future)
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({task})
    return task.result()


def _cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class _Transaction:
    """One claimed message on its way: which claim is current, and whether DATA began."""

    def __init__(self, run: _Run, claimed: Claimed) -> None:
        self.run = run
        self.claimed = claimed
        self.on_wire = False

    def handing_over(self) -> bool:
        """Called just before DATA: commit the mark; False if the message is no longer ours."""
        marked = mark_handing_over(self.run.outbox, self.claimed)
        if marked is None:
            return False
        self.claimed = marked
        self.on_wire = True
        return True

    def conclude(self, result: TransactionResult) -> None:
        """After the transaction: a problem of the server or the configuration stops the run
        and gives the message back; any other outcome is recorded."""
        if result.taken_over:
            self.run.report.skipped[TAKEN_BY_ANOTHER_SENDER] += 1
        elif result.about_server:
            self.run.stop(result.reply)
            self.run.give_back(self.claimed, result.reply)
        else:
            self.run.record(self.claimed, result)

    async def interrupted(
        self, client: aiosmtplib.SMTP, delivering: asyncio.Future[TransactionResult]
    ) -> None:
        """The run was interrupted: before DATA the message goes back unsent; after DATA began
        the transaction may finish and its outcome is recorded (unknown if cut off after all)."""
        if not self.on_wire:
            delivering.cancel()
        try:
            result = await _through_cancellation(delivering)
        except asyncio.CancelledError:
            client.close()
            if not self.on_wire:
                self.run.give_back(self.claimed, "the run was interrupted")
                return
            reply = "the run was interrupted while the message was being handed over"
            result = TransactionResult(Outcome.UNKNOWN, reply, connection_lost=True)
        self.conclude(result)


async def _hand_over(
    run: _Run, client: aiosmtplib.SMTP, claimed: Claimed
) -> aiosmtplib.SMTP | None:
    """Send one claimed message; return the connection for the next one (None once closed)."""
    transaction = _Transaction(run, claimed)
    delivering = asyncio.ensure_future(
        deliver(client, run.sender, list(claimed.stored.to), claimed.data, transaction.handing_over)
    )
    try:
        result = await asyncio.shield(delivering)
    except asyncio.CancelledError:
        await transaction.interrupted(client, delivering)
        raise
    except Exception:
        # Not an SMTP outcome (those are results): never leave the message `sending` for it.
        client.close()
        if not transaction.on_wire:
            run.give_back(transaction.claimed, "an unexpected error stopped the run")
        else:
            reply = "an unexpected error stopped the run while the message was being handed over"
            run.record(transaction.claimed, TransactionResult(Outcome.UNKNOWN, reply))
        raise
    transaction.conclude(result)
    return None if result.connection_lost else client


async def _close(client: aiosmtplib.SMTP) -> None:
    if _cancelled():
        client.close()
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, asyncio.CancelledError):
        client.close()


async def _worker(run: _Run) -> None:
    """One connection: per message the rate limit, a connection, a claim, the transaction;
    until the plan is done or the run stops."""
    client: aiosmtplib.SMTP | None = None
    try:
        for message_id in run.queue:
            await run.limiter.acquire()
            if run.report.stopped is None and client is None:
                try:
                    client = await connect(run.settings)
                except SmtpError as error:
                    run.stop(str(error))
            if run.report.stopped is not None or client is None:
                run.report.skipped[NOT_SENT] += 1
                return
            taken = claim_message(run.outbox, message_id, run.by, new_claim())
            if isinstance(taken, str):
                run.report.skipped[taken] += 1
                continue
            client = await _hand_over(run, client, taken)
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
        except (RuntimeError, ValueError, NotImplementedError):
            continue  # not the main thread, or Windows: Ctrl-C still works
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
    queue = iter(list(report.planned))
    run = _Run(
        outbox=outbox,
        settings=settings,
        report=report,
        limiter=limiter or RateLimiter(settings.rate_limit),
        queue=queue,
        sender=settings.sender_address.addr_spec,  # a bad sender is found before any claim
        by=by,
        progress=progress or _no_progress,
    )
    try:
        with asyncio.Runner() as runner:
            runner.run(_send(run, connections, stop_signals))
    except asyncio.CancelledError:
        raise SendInterrupted(run.signal_name or "stopped") from None
    finally:
        untouched = sum(1 for _ in queue)  # the run stopped before anyone took them
        if untouched:
            report.skipped[NOT_SENT] += untouched
    return report


def _no_progress(_: SendEvent) -> None:
    pass
