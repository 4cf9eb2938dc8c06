"""Claiming a message for sending, marking it just before DATA, and telling whether the sender
that claimed a message is still there.

A claim is a committed state change (`approved` -> `sending`) made right before MAIL FROM. It
succeeds only while the stored bytes are exactly the approved ones and the envelope is exactly
the To header of those bytes. Just before DATA the claim is marked `handing_over`, durably:
should the sender die, the next one knows whether the server may have the message.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from datetime import timedelta
from email.utils import getaddresses
from functools import cache

import psutil

from mailer.clock import now_in_amsterdam
from mailer.errors import MessageNotFound, OutboxError, TransitionNotAllowed
from mailer.outbox.store import Claim, Outbox, State, StoredMessage, TransitionRequest
from mailer.sending.records import TAKEN_BY_ANOTHER_SENDER, sendable_problem

__all__ = [
    "CLAIM_LEASE",
    "Claimed",
    "claim_message",
    "claimer_alive",
    "mark_handing_over",
    "new_claim",
]

# How long a claim made on another computer counts as alive. A claim lasts one SMTP
# transaction (each step bounded by `smtp_timeout`), so a claim this old belongs to a sender
# that is gone; on this computer a dead sender is seen at once (`claimer_alive`).
CLAIM_LEASE = timedelta(minutes=10)
# Process start times are kept to a hundredth of a second or so; a reused PID starts later.
_START_SLACK = 1.0


@cache
def _this_process() -> tuple[int, str, float]:
    return os.getpid(), socket.gethostname(), psutil.Process().create_time()


def new_claim() -> Claim:
    """A claim for this process, made now."""
    pid, host, started = _this_process()
    now = now_in_amsterdam()
    return Claim(pid=pid, host=host, started=started, at=now, lease_until=now + CLAIM_LEASE)


def claimer_alive(claim: Claim | None) -> bool:
    """Whether the process that made `claim` may still be sending its message."""
    if claim is None:
        return False
    if claim.host != socket.gethostname():
        return bool(now_in_amsterdam() < claim.lease_until)
    try:
        process = psutil.Process(claim.pid)
        if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by its parent
            return False
        started = process.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists, under another user
    # The same PID with a later start is another program that got the number afterwards.
    return abs(started - claim.started) <= _START_SLACK


@dataclass(frozen=True)
class Claimed:
    """A message this process has taken for sending, with the exact bytes to send."""

    stored: StoredMessage
    data: bytes


# The header block ends at the first empty line; a header continues on lines that start with
# white space (RFC 5322 §2.2.3).
_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_TO_LINE = re.compile(rb"^to:(.*)$", re.IGNORECASE | re.MULTILINE)


def to_addresses(data: bytes) -> list[str]:
    """The addr-specs of the To header(s) of the message bytes. Display names stay encoded
    words, which `getaddresses` passes over."""
    end = _END_OF_HEADERS.search(data)
    head = _FOLD.sub(b"", data[: end.start()] if end else data)
    values = [value.decode("utf-8", "replace").strip() for value in _TO_LINE.findall(head)]
    return [address for _, address in getaddresses(values) if address]


class _NotSendable(OutboxError):
    pass


def claim_message(outbox: Outbox, message_id: str, by: str, claim: Claim) -> Claimed | str:
    """Take one message for this sender in a committed transaction; what was taken, or why it
    could not be."""
    try:
        data = outbox.read_bytes(message_id)
    except MessageNotFound:
        return "message file missing"
    header_to = sorted(address.lower() for address in to_addresses(data))

    def take(current: StoredMessage) -> dict[str, object]:
        problem = sendable_problem(outbox, current, now_in_amsterdam(), data)
        if problem is None and sorted(a.lower() for a in current.to) != header_to:
            # The approval's hash covers the bytes (and so their To), not the metadata the
            # envelope is taken from.
            problem = "recipients differ from the approved letter's To (not sent)"
        if problem:
            raise _NotSendable(problem)
        return {"claim": claim}

    request = TransitionRequest(
        message_id,
        State.SENDING,
        by,
        note="claimed for sending",
        only_from=frozenset({State.APPROVED}),
        change=take,
    )
    (taken,) = outbox.transition_many([request])
    if isinstance(taken, StoredMessage):
        return Claimed(taken, data)
    if isinstance(taken, TransitionNotAllowed):
        return TAKEN_BY_ANOTHER_SENDER
    return str(taken)


def mark_handing_over(outbox: Outbox, claimed: Claimed) -> Claimed | None:
    """Record durably that DATA is about to begin; None when the claim is no longer ours (a
    sender on another computer took the message over after our lease ran out)."""
    claim = claimed.stored.claim

    def mark(current: StoredMessage) -> dict[str, object]:
        if current.state != State.SENDING or current.claim != claim or claim is None:
            raise OutboxError(f"{current.id}: claimed again in the meantime")
        return {"claim": claim.model_copy(update={"handing_over": True})}

    try:
        marked = outbox.update_fields(claimed.stored.id, mark)
    except OutboxError:
        return None
    return Claimed(marked, claimed.data)
