"""The send run: approved messages out over SMTP, each at most once, every outcome recorded.

A run first marks messages left in `sending` by a dead process as `unknown`, then claims each
sendable message atomically (`approved` -> `sending`, under the outbox lock, re-checking the hash
of its bytes), sends it on one of K connections, and records the outcome. Outbox writes run in
threads so that their fsyncs overlap with the network. Progress is reported through a callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiosmtplib

from mailer.config import Settings
from mailer.delivery import Outcome, TransactionResult, deliver
from mailer.errors import MessageNotFound, OutboxError, TransitionNotAllowed
from mailer.outbox import Claim, Outbox, State, StoredMessage
from mailer.rate_limit import RateLimiter
from mailer.records import now_in_amsterdam
from mailer.send_records import (
    claimer_alive,
    record_result,
    release,
    sendable_problem,
)
from mailer.smtp_client import SmtpError, check_security, connect

__all__ = [
    "ProgressCallback",
    "SendEvent",
    "SendReport",
    "plan_send",
    "recover_stale",
    "send_approved",
]


@dataclass(frozen=True)
class SendEvent:
    """One message done; `detail` is one line for the person running the send."""

    message_id: str
    outcome: str
    detail: str


ProgressCallback = Callable[[SendEvent], None]


@dataclass
class SendReport:
    """What a run did (or, for a dry run, would do)."""

    planned: list[str] = field(default_factory=list)
    outcomes: dict[str, list[str]] = field(default_factory=dict)  # outcome -> IDs
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    recovered: list[str] = field(default_factory=list)  # left in `sending` -> now unknown
    partial: dict[str, list[str]] = field(default_factory=dict)  # ID -> refused addresses
    stopped: str | None = None  # why the run ended early

    def ids(self, outcome: str) -> list[str]:
        """The IDs with this outcome (`Outcome.SENT` or plain "sent")."""
        return self.outcomes.get(str(outcome), [])

    def add(self, message_id: str, outcome: str) -> None:
        self.outcomes.setdefault(outcome, []).append(message_id)

    @property
    def all_well(self) -> bool:
        troubles = (Outcome.FAILED, Outcome.UNKNOWN, Outcome.DEFERRED)
        if self.stopped or self.recovered or self.partial:
            return False
        return not any(self.ids(outcome) for outcome in troubles)

    def summary(self) -> str:
        """One line: every count, then why messages were skipped."""
        counts = ", ".join(
            f"{len(self.ids(outcome))} {outcome.value}"
            for outcome in (Outcome.SENT, Outcome.DEFERRED, Outcome.FAILED, Outcome.UNKNOWN)
        )
        skipped = sum(self.skipped.values())
        text = f"{counts}, {skipped} skipped"
        if skipped:
            reasons = "; ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
            text += f" ({reasons})"
        if self.partial:
            text += f"; {len(self.partial)} sent message(s) did not reach every recipient"
        return text + "."


def plan_send(
    outbox: Outbox,
    *,
    limit: int | None = None,
    now: datetime | None = None,
    recover_as: str | None = None,
) -> SendReport:
    """Which approved messages may be sent now (in queueing order), and why others may not.

    With `recover_as`, messages left in `sending` by a process that is gone are marked `unknown`
    in the same pass (a dry run leaves them alone).
    """
    now = now or now_in_amsterdam()
    report = SendReport()
    sendable: list[tuple[datetime, str]] = []  # only keys are kept: memory stays flat in N
    for stored in outbox.messages():
        if stored.state == State.PENDING:
            report.skipped["not approved yet"] += 1
        elif stored.state == State.UNKNOWN:
            report.skipped["delivery unknown: decide with `mailer resolve`"] += 1
        elif (
            stored.state == State.SENDING
            and recover_as is not None
            and not claimer_alive(stored.claim)
            and _mark_unknown(outbox, stored, recover_as)
        ):
            report.recovered.append(stored.id)
        if stored.state != State.APPROVED:
            continue
        problem = sendable_problem(outbox, stored, now)
        if problem:
            report.skipped[problem] += 1
        else:
            sendable.append((stored.created_at, stored.id))
    sendable.sort()
    if limit is not None and len(sendable) > limit:
        report.skipped["beyond --limit"] += len(sendable) - limit
        del sendable[limit:]
    report.planned = [message_id for _, message_id in sendable]
    return report


def _mark_unknown(outbox: Outbox, stored: StoredMessage, by: str) -> bool:
    claim = stored.claim
    who = f"process {claim.pid}" if claim else "a sender"

    def same_claim(current: StoredMessage) -> dict[str, object]:
        if current.claim != claim:
            raise OutboxError("claimed again in the meantime")
        return {
            "claim": None,
            "last_error": f"the sending {who} stopped while sending; it may or may not have "
            "arrived: decide with `mailer resolve ID --sent` or `--resend`",
        }

    try:
        outbox.transition(
            stored.id,
            State.UNKNOWN,
            by=by,
            note=f"the sending {who} stopped while it was sending",
            only_from=frozenset({State.SENDING}),
            change=same_claim,
        )
    except OutboxError:
        return False
    return True


def recover_stale(outbox: Outbox, by: str) -> list[str]:
    """Mark messages whose sending process is gone as `unknown`; never send them again."""
    return [
        stored.id
        for stored in outbox.messages(State.SENDING)
        if not claimer_alive(stored.claim) and _mark_unknown(outbox, stored, by)
    ]


@dataclass
class _Claimed:
    stored: StoredMessage
    data: bytes


@dataclass
class _Run:
    outbox: Outbox
    settings: Settings
    by: str
    report: SendReport
    progress: ProgressCallback | None
    limiter: RateLimiter
    queue: asyncio.Queue[_Claimed | None]
    recording: asyncio.Semaphore
    records: set[asyncio.Task[None]] = field(default_factory=set)

    def stop(self, reason: str) -> None:
        if self.report.stopped is None:
            self.report.stopped = reason

    def tell(self, event: SendEvent) -> None:
        if self.progress:
            self.progress(event)


def _claim(outbox: Outbox, message_id: str, by: str) -> _Claimed | str:
    """Take one message for this process, or say why it cannot be taken (runs in a thread).

    The bytes are read before the lock is taken (less time under it); the claim succeeds only
    if exactly those bytes are the approved ones, and those bytes are what will be sent.
    """
    try:
        data = outbox.read_bytes(message_id)
    except MessageNotFound:
        return "message file missing"
    claim = Claim(pid=os.getpid(), host=socket.gethostname(), at=now_in_amsterdam())

    def take(current: StoredMessage) -> dict[str, object]:
        problem = sendable_problem(outbox, current, now_in_amsterdam(), data)
        if problem:
            raise _NotSendable(problem)
        return {"claim": claim}

    try:
        stored = outbox.transition(
            message_id,
            State.SENDING,
            by=by,
            note="claimed for sending",
            only_from=frozenset({State.APPROVED}),
            change=take,
        )
    except TransitionNotAllowed:
        return "taken by another sender"
    except _NotSendable as problem:
        return str(problem)
    return _Claimed(stored, data)


class _NotSendable(OutboxError):
    pass


async def _claim_in_thread(run: _Run, message_id: str) -> _Claimed | str:
    claiming = asyncio.ensure_future(asyncio.to_thread(_claim, run.outbox, message_id, run.by))
    try:
        return await asyncio.shield(claiming)
    except asyncio.CancelledError:
        # A thread cannot be stopped: let the claim finish (even through a second cancellation
        # as the event loop shuts down), then give the message back.
        while not claiming.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(claiming)
        late = claiming.result()
        if isinstance(late, _Claimed):
            release(run.outbox, message_id, run.by, "the run was interrupted")
        raise


async def _claim_all(run: _Run, ids: list[str], connections: int) -> None:
    try:
        for message_id in ids:
            if run.report.stopped:
                break
            claimed = await _claim_in_thread(run, message_id)
            if isinstance(claimed, str):
                run.report.skipped[claimed] += 1
                continue
            try:
                await run.queue.put(claimed)
            except asyncio.CancelledError:
                release(run.outbox, message_id, run.by, "the run was interrupted")
                raise
    finally:
        for _ in range(connections):
            await run.queue.put(None)


async def _record(run: _Run, claimed: _Claimed, result: TransactionResult) -> None:
    try:
        outcome, detail = await asyncio.to_thread(
            record_result, run.outbox, claimed.stored, result, run.settings, run.by
        )
    finally:
        run.recording.release()
    run.report.add(claimed.stored.id, outcome)
    if result.refused and outcome == Outcome.SENT:
        run.report.partial[claimed.stored.id] = sorted(result.refused)
    run.tell(SendEvent(claimed.stored.id, outcome, detail))


async def _give_back(run: _Run, claimed: _Claimed, why: str) -> None:
    await asyncio.to_thread(release, run.outbox, claimed.stored.id, run.by, why)
    run.report.skipped["not sent because the run stopped"] += 1


async def _ready_client(
    run: _Run, client: aiosmtplib.SMTP | None, claimed: _Claimed
) -> tuple[aiosmtplib.SMTP | None, bool]:
    """The connection to use next, and whether `claimed` goes out on it now (if not, it was
    given back unsent)."""
    try:
        if run.report.stopped:
            await _give_back(run, claimed, run.report.stopped)
            return client, False
        if client is None:
            try:
                client = await connect(run.settings)
            except SmtpError as error:
                run.stop(str(error))
                await _give_back(run, claimed, str(error))
                return None, False
        await run.limiter.acquire()
    except asyncio.CancelledError:
        # Interrupted before anything of this message went out: give it back at once.
        release(run.outbox, claimed.stored.id, run.by, "the run was interrupted")
        raise
    return client, True


async def _worker(run: _Run) -> None:
    client: aiosmtplib.SMTP | None = None
    sender = run.settings.sender_address.addr_spec
    try:
        while (claimed := await run.queue.get()) is not None:
            client, go = await _ready_client(run, client, claimed)
            if client is None or not go:
                continue
            result = await deliver(client, sender, list(claimed.stored.to), claimed.data)
            if result.connection_lost:
                client = None
            # Recording overlaps with the next message; the semaphore bounds how many wait.
            await run.recording.acquire()
            task = asyncio.create_task(_record(run, claimed, result))
            run.records.add(task)
            task.add_done_callback(run.records.discard)
    finally:
        if client is not None:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


async def _send(run: _Run, ids: list[str], connections: int) -> None:
    claimer = asyncio.create_task(_claim_all(run, ids, connections))
    workers = [asyncio.create_task(_worker(run)) for _ in range(connections)]
    try:
        await asyncio.gather(claimer, *workers)
        while run.records:
            await asyncio.gather(*list(run.records))
    finally:
        # Claimed but never taken by a connection (the run was interrupted): give them back.
        while not run.queue.empty():
            leftover = run.queue.get_nowait()
            if leftover is not None:
                release(run.outbox, leftover.stored.id, run.by, "the run was interrupted")


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
) -> SendReport:
    """Send what `plan` (default: `plan_send` with recovery of stale claims) allows.

    A caller that passes its own `plan` made it with `recover_as` so stale claims are handled.
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
        queue=asyncio.Queue(maxsize=connections),
        recording=asyncio.Semaphore(2 * connections + 2),
    )
    asyncio.run(_send(run, list(report.planned), connections))
    return report
