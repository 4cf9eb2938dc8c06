"""The send run: approved messages out over SMTP, each at most once, every outcome recorded.

The plan (`plan`) first recovers messages that a sender which is gone left `sending`. Then each
of K connections takes the next planned message, waits for the rate limit, reads it
(`claims.read_for_sending`) and hands it over (`delivery`): MAIL and RCPT, then one durable
commit that claims it, then DATA. The server's answers are recorded (`records`) in that same
commit of the next claim, so each message costs one commit; they are committed on their own
when the run waits (a rate limit) or ends. A stopped run lets a message whose DATA began finish
and records its outcome; one not yet claimed simply stays approved.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiosmtplib

from mailer.config import Settings
from mailer.errors import OutboxError
from mailer.outbox.store import Outbox, StoredMessage, TransitionRequest
from mailer.sending.claims import (
    ToSend,
    claim_request,
    new_claim,
    read_for_sending,
    why_not_claimed,
)
from mailer.sending.delivery import Outcome, TransactionResult, deliver
from mailer.sending.plan import NOT_SENT, ProgressCallback, SendEvent, SendReport, plan_send
from mailer.sending.rate_limit import RateLimiter
from mailer.sending.records import outcome_request
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


# How long a server's answer may wait for the next claim's commit before it is committed on its
# own (answers refused before DATA come without a claim).
ANSWER_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class _Outcome:
    """A server's answer about one message, waiting for the next commit."""

    message_id: str
    request: TransitionRequest
    outcome: str
    line: str  # for the person sending
    refused: list[str]  # addresses refused in a message sent to the others
    received: float = field(default_factory=time.monotonic)


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
    waiting: list[_Outcome] = field(default_factory=list)

    def stop(self, reason: str) -> None:
        if self.report.stopped is None:
            self.report.stopped = reason

    def answered(self, stored: StoredMessage, result: TransactionResult) -> None:
        """Keep the server's answer about `stored` for the next commit."""
        request, outcome, line = outcome_request(stored, result, self.settings, self.by)
        refused = sorted(result.refused) if result.outcome == Outcome.SENT else []
        self.waiting.append(_Outcome(stored.id, request, outcome, line, refused))

    def claim(self, to_send: ToSend) -> StoredMessage | str:
        """Commit the waiting answers and this message's claim together; the claimed message,
        or why it could not be claimed."""
        claim = claim_request(to_send, self.by, new_claim())
        waiting = list(self.waiting)
        *recorded, taken = self.outbox.transition_many([o.request for o in waiting] + [claim])
        del self.waiting[: len(waiting)]  # only once committed: a failed commit keeps them
        self._report(waiting, recorded)
        return why_not_claimed(taken) if isinstance(taken, OutboxError) else taken

    def commit_answers(self, *, older_than: float = 0.0) -> None:
        """Commit the waiting answers now (the run waits or ends), or only once the oldest has
        waited `older_than` seconds."""
        if not self.waiting or time.monotonic() - self.waiting[0].received < older_than:
            return
        waiting = list(self.waiting)
        recorded = self.outbox.transition_many([o.request for o in waiting])
        del self.waiting[: len(waiting)]
        self._report(waiting, recorded)

    def _report(self, waiting: list[_Outcome], recorded: list[StoredMessage | OutboxError]) -> None:
        for answer, result in zip(waiting, recorded, strict=True):
            if isinstance(result, OutboxError):
                self.report.skipped[f"outcome not recorded ({result})"] += 1
                continue
            self.report.add(answer.message_id, answer.outcome)
            if answer.refused:
                self.report.partial[answer.message_id] = answer.refused
            self.progress(SendEvent(answer.message_id, answer.outcome, answer.line))


async def _through_cancellation(future: Awaitable[_T]) -> _T:
    """The result of `future`, waiting for it even when this task is cancelled meanwhile: a
    message on the wire completes. The caller re-raises."""
    task = asyncio.ensure_future(future)
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({task})
    return task.result()


def _cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class _Transaction:
    """One message on its way: read, then claimed just before DATA."""

    def __init__(self, run: _Run, to_send: ToSend) -> None:
        self.run = run
        self.to_send = to_send
        self.claimed: StoredMessage | None = None

    def handing_over(self) -> str | None:
        """Called just before DATA: claim the message (one commit); why not, if it cannot be."""
        taken = self.run.claim(self.to_send)
        if isinstance(taken, str):
            return taken
        self.claimed = taken
        return None

    def conclude(self, result: TransactionResult) -> None:
        """After the transaction: a refusal about the server or the configuration stops the run
        (nothing was claimed); any other answer is recorded with the next commit."""
        if result.not_claimed:
            self.run.report.skipped[result.reply] += 1
        elif result.about_server:
            self.run.stop(result.reply)
            self.run.report.skipped[NOT_SENT] += 1
        else:
            self.run.answered(self.claimed or self.to_send.stored, result)

    async def interrupted(
        self, client: aiosmtplib.SMTP, delivering: asyncio.Future[TransactionResult]
    ) -> None:
        """The run was interrupted: a message not yet claimed stays approved; once claimed
        (DATA begins) the transaction may finish and its outcome is recorded (unknown if it is
        cut off after all)."""
        if self.claimed is None:
            delivering.cancel()
        try:
            result = await _through_cancellation(delivering)
        except asyncio.CancelledError:
            client.close()
            if self.claimed is None:
                self.run.report.skipped[NOT_SENT] += 1
                return
            reply = "the run was interrupted while the message was being handed over"
            result = TransactionResult(Outcome.UNKNOWN, reply, connection_lost=True)
        self.conclude(result)


async def _hand_over(run: _Run, client: aiosmtplib.SMTP, to_send: ToSend) -> aiosmtplib.SMTP | None:
    """Send one message; return the connection for the next one (None once closed)."""
    transaction = _Transaction(run, to_send)
    delivering = asyncio.ensure_future(
        deliver(client, run.sender, list(to_send.stored.to), to_send.data, transaction.handing_over)
    )
    try:
        result = await asyncio.shield(delivering)
    except asyncio.CancelledError:
        await transaction.interrupted(client, delivering)
        raise
    except Exception:
        # Not an SMTP outcome (those are results): a claimed message is never left `sending`.
        client.close()
        if transaction.claimed is not None:
            reply = "an unexpected error stopped the run while the message was being handed over"
            run.answered(transaction.claimed, TransactionResult(Outcome.UNKNOWN, reply))
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
    """One connection: per message the rate limit, a connection, the message read, the
    transaction; until the plan is done or the run stops."""
    client: aiosmtplib.SMTP | None = None
    try:
        for message_id in run.queue:
            # With a rate limit the next claim is a while off: the answers so far go to disk
            # now; without one, they wait for the next claim, at most a moment.
            run.commit_answers(older_than=0.0 if run.limiter.interval else ANSWER_WAIT_SECONDS)
            await run.limiter.acquire()
            if run.report.stopped is None and client is None:
                try:
                    client = await connect(run.settings)
                except SmtpError as error:
                    run.stop(str(error))
            if run.report.stopped is not None or client is None:
                run.report.skipped[NOT_SENT] += 1
                return
            to_send = read_for_sending(run.outbox, message_id)
            if isinstance(to_send, str):
                run.report.skipped[to_send] += 1
                continue
            client = await _hand_over(run, client, to_send)
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
        finally:
            run.commit_answers()


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
