"""The send run: approved messages out over SMTP, each at most once, every outcome recorded.

The plan (`plan`) first recovers messages that a sender which is gone left `sending`. Then each
of K connections takes the next planned message, reads it (`claims.read_for_sending`), waits for
its start at the mailbox's pace (`rate_limit`, shared by every sender) and hands it over
(`delivery`): MAIL and RCPT, then one durable commit that claims it, then DATA. When the server
asks to slow down the message goes back in the queue, the connection pauses with growing
back-off and the run keeps fewer connections at a lower pace; after too many such answers in a
row, or a refusal of the whole mailbox (a quota, the sender), the run stops with the rest
approved. The server's answers are recorded (`records`) in that same
commit of the next claim, so each message costs one commit; they are committed on their own
when the run waits (a rate limit) or ends. A stopped run lets a message whose DATA began finish
and records its outcome; one not yet claimed simply stays approved.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from collections.abc import Awaitable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import aiosmtplib

from mailer.clock import AMSTERDAM
from mailer.config import Settings
from mailer.errors import OutboxError
from mailer.i18n import _
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
from mailer.sending.rate_limit import (
    SYSTEM_CLOCK,
    CapReached,
    Clock,
    Reservation,
    SendPace,
    Taken,
    check_connections,
)
from mailer.sending.records import TAKEN_BY_ANOTHER_SENDER, give_back_request, outcome_request
from mailer.sending.replies import is_quota
from mailer.sending.smtp_client import (
    SmtpError,
    SmtpThrottled,
    SmtpUnreachable,
    check_security,
    connect,
    hang_up,
)
from mailer.sending.stop_signals import stop_signals_cancel

__all__ = [
    "NOT_SENT",
    "ProgressCallback",
    "SendEvent",
    "SendInterrupted",
    "SendReport",
    "check_connections",
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
# The server asked to slow down: the first pause, doubling each time the next answer is the
# same, up to the longest; after this many in a row the run stops (about 15 minutes of trying).
FIRST_PAUSE_SECONDS = 30.0
LONGEST_PAUSE_SECONDS = 8 * 60.0
THROTTLES_IN_A_ROW = 5
# How long after such a stop to try again.
RESUME_AFTER = timedelta(minutes=30)


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
    pace: SendPace
    queue: deque[str]
    sender: str
    by: str
    progress: ProgressCallback
    connections: int
    signal_name: str | None = None
    waiting: list[_Outcome] = field(default_factory=list)
    throttles_in_a_row: int = 0
    # Another sender walks the same queue (it took a message first): this run then takes from
    # the other end, so that the two stop reading the same letters one after the other.
    from_the_end: bool = False
    connected_once: bool = False  # a refused connection is the server's mood, not a setting

    def stop(self, reason: str, resume_at: float | None = None) -> None:
        if self.report.stopped is None:
            self.report.stopped = reason
            if resume_at is not None:
                self.report.resume_at = datetime.fromtimestamp(resume_at, AMSTERDAM)

    def take(self) -> str:
        """The next message to send."""
        return self.queue.pop() if self.from_the_end else self.queue.popleft()

    def put_back(self, message_id: str) -> None:
        """`message_id` goes back to be taken next."""
        if self.from_the_end:
            self.queue.append(message_id)
        else:
            self.queue.appendleft(message_id)

    async def slow_down(self, message_id: str, reply: str) -> None:
        """The server asked to slow down: `message_id` goes back first in line, this run keeps
        one connection fewer at half the pace, and this connection pauses; too many such
        answers in a row stop the run."""
        self.put_back(message_id)
        self.report.throttled += 1
        self.throttles_in_a_row += 1
        if self.throttles_in_a_row > THROTTLES_IN_A_ROW:
            self.stop(
                _("the server kept asking to slow down ({reply})").format(reply=reply),
                resume_at=self.pace.clock.now() + RESUME_AFTER.total_seconds(),
            )
            return
        self.connections = max(1, self.connections - 1)
        self.pace.slow_down()
        pause = FIRST_PAUSE_SECONDS * 2 ** (self.throttles_in_a_row - 1)
        self.commit_answers()
        await self.pace.clock.sleep(min(pause, LONGEST_PAUSE_SECONDS))

    def give_back(self, stored: StoredMessage, why: str) -> None:
        """A claimed message the server did not take, for a reason about the server: back to
        approved at once, without an attempt."""
        (result,) = self.outbox.transition_many([give_back_request(stored, why, self.by)])
        if isinstance(result, OutboxError):
            self.report.skipped[_("outcome not recorded ({problem})").format(problem=result)] += 1

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
                self.report.skipped[
                    _("outcome not recorded ({problem})").format(problem=result)
                ] += 1
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

    def __init__(self, run: _Run, to_send: ToSend, start: Reservation) -> None:
        self.run = run
        self.to_send = to_send
        self.start = start
        self.claimed: StoredMessage | None = None

    def handing_over(self) -> str | None:
        """Called just before DATA: claim the message (one commit); why not, if it cannot be."""
        taken = self.run.claim(self.to_send)
        if isinstance(taken, str):
            return taken
        self.claimed = taken
        return None

    def conclude(self, result: TransactionResult) -> None:
        """After the transaction: a refusal about the server, the mailbox or the configuration
        stops the run and a request to slow down pauses it (a claimed message goes back
        approved, unsent); any other answer is recorded with the next commit."""
        if result.not_claimed:
            self.run.report.skipped[result.reply] += 1
            return
        if (result.about_server or result.throttled) and self.claimed is not None:
            self.run.give_back(self.claimed, result.reply)
        if result.about_server:
            # A quota ends by itself within a day; anything else needs a person first.
            day = self.run.pace.clock.now() + 24 * 60 * 60.0 if is_quota(result.reply) else None
            self.run.stop(result.reply, resume_at=day)
            self.run.report.skipped[NOT_SENT] += 1
        elif not result.throttled:
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
                self.run.pace.give_back(self.start)  # nothing was handed over with it
                self.run.report.skipped[NOT_SENT] += 1
                return
            reply = "the run was interrupted while the message was being handed over"
            result = TransactionResult(Outcome.UNKNOWN, reply, connection_lost=True)
        self.conclude(result)


async def _hand_over(
    run: _Run, client: aiosmtplib.SMTP, to_send: ToSend, start: Reservation
) -> tuple[aiosmtplib.SMTP | None, TransactionResult]:
    """Send one message; return the connection for the next one (None once closed) and what
    the server said."""
    transaction = _Transaction(run, to_send, start)
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
    return (None if result.connection_lost else client), result


async def _close(client: aiosmtplib.SMTP) -> None:
    if _cancelled():
        client.close()
        return
    with contextlib.suppress(asyncio.CancelledError):  # `hang_up` has closed it by then
        await hang_up(client)


async def _connect(run: _Run) -> aiosmtplib.SMTP | SmtpError | None:
    """A connection; or the server's refusal to pause on; or None: the run stops."""
    try:
        client = await connect(run.settings)
    except SmtpThrottled as error:
        return error
    except SmtpError as error:
        # Unreachable after this run did connect: the server's mood. The first time (or any
        # other problem): a setting to fix.
        if isinstance(error, SmtpUnreachable) and run.connected_once:
            return error
        run.stop(str(error))
        return None
    run.connected_once = True
    return client


async def _start(run: _Run, message_id: str, to_send: ToSend) -> Reservation | None:
    """Wait for this message's start at the mailbox's pace; None when it may not start (the
    message is put back when the run stops)."""
    try:
        start = await run.pace.start(message_id, len(to_send.stored.to))
    except asyncio.CancelledError:
        run.put_back(message_id)  # counted as not sent
        raise
    if isinstance(start, Taken):
        run.report.skipped[TAKEN_BY_ANOTHER_SENDER] += 1
        run.from_the_end = not run.from_the_end
        return None
    if isinstance(start, CapReached):
        run.put_back(message_id)
        limit = run.pace.daily_limit
        run.stop(
            _(
                "the daily limit of {limit} recipients for this mailbox is reached "
                "(daily_recipient_limit)"
            ).format(limit=limit),
            resume_at=start.until,
        )
        return None
    if run.report.stopped is not None:  # while this one waited
        run.pace.give_back(start)
        run.put_back(message_id)
        return None
    return start


async def _worker(run: _Run, number: int) -> None:
    """One connection: per message its read, its start at the pace, a connection, the
    transaction; until the queue is empty, the run stops, or it slowed down to fewer
    connections than this one's number."""
    client: aiosmtplib.SMTP | None = None
    try:
        while run.queue and run.report.stopped is None and number < run.connections:
            message_id = run.take()
            # With a pace the next start is a while off: the answers so far go to disk now;
            # without one, they wait for the next claim, at most a moment.
            run.commit_answers(older_than=0.0 if run.pace.interval else ANSWER_WAIT_SECONDS)
            to_send = read_for_sending(run.outbox, message_id)
            if isinstance(to_send, str):
                run.report.skipped[to_send] += 1
                continue
            start = await _start(run, message_id, to_send)
            if start is None:
                continue
            if client is None:
                try:
                    connected = await _connect(run)
                except asyncio.CancelledError:
                    run.pace.give_back(start)
                    run.put_back(message_id)
                    raise
                if not isinstance(connected, aiosmtplib.SMTP):
                    run.pace.give_back(start)
                    if connected is None:
                        run.put_back(message_id)
                    else:
                        await run.slow_down(message_id, str(connected))
                    continue
                client = connected
            client, result = await _hand_over(run, client, to_send, start)
            if result.throttled or result.not_claimed or result.about_server:
                run.pace.give_back(start)  # nothing was handed over
            if result.throttled:
                if client is not None:
                    await _close(client)
                    client = None
                await run.slow_down(message_id, result.reply)
            else:
                run.throttles_in_a_row = 0
    finally:
        if client is not None:
            await _close(client)


async def _send(run: _Run, connections: int, stop_signals: Collection[signal.Signals]) -> None:
    def stopped_by(name: str) -> None:
        run.signal_name = name

    with stop_signals_cancel(stop_signals, stopped_by):
        try:
            async with asyncio.TaskGroup() as group:
                for number in range(connections):
                    group.create_task(_worker(run, number))
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
    clock: Clock = SYSTEM_CLOCK,
    stop_signals: Collection[signal.Signals] = (),
) -> SendReport:
    """Send what `plan` (default: `plan_send` with recovery of stale claims) allows.

    A caller that passes its own `plan` made it with `recover_as` so stale claims are handled.
    `stop_signals` (e.g. SIGTERM, SIGHUP) end the run like Ctrl-C; the call then raises
    `SendInterrupted` (Ctrl-C itself raises KeyboardInterrupt). `clock` times the pace and the
    pauses (tests pass one they move by hand).
    """
    check_connections(settings, connections)
    check_security(settings)
    report = plan or plan_send(outbox, limit=limit, recover_as=by)
    queue = deque(report.planned)
    sender = settings.sender_address.addr_spec  # a bad sender is found before any claim
    run = _Run(
        outbox=outbox,
        settings=settings,
        report=report,
        pace=SendPace(
            outbox, sender, settings.rate_limit, settings.daily_recipient_limit, clock=clock
        ),
        queue=queue,
        sender=sender,
        by=by,
        progress=progress or _no_progress,
        connections=connections,
    )
    try:
        with asyncio.Runner() as runner:
            runner.run(_send(run, connections, stop_signals))
    except asyncio.CancelledError:
        raise SendInterrupted(run.signal_name or "stopped") from None
    finally:
        untouched = len(queue)  # the run stopped before anyone took them
        if untouched:
            report.skipped[NOT_SENT] += untouched
    return report


def _no_progress(_event: SendEvent) -> None:
    pass
