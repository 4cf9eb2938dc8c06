"""Reading a message for sending, claiming it just before DATA, and telling whether the sender
that claimed a message is still there.

A message is read (bytes and envelope checked against the approval) before MAIL FROM; its claim
(`approved` -> `sending`) is committed after RCPT, right before DATA, and succeeds only while
the message still holds the bytes that were read. So from the claim on, the server may have the
message, and before it nothing was handed over: a dead sender's claim means `unknown`.
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
from mailer.errors import OutboxError, TransitionNotAllowed
from mailer.outbox.store import Claim, Outbox, State, StoredMessage, TransitionRequest
from mailer.review.versions import approval_not_on_record
from mailer.sending.records import (
    CHANGED_AFTER_APPROVAL,
    NO_LONGER_APPROVED,
    TAKEN_BY_ANOTHER_SENDER,
    TAKEN_STATES,
    sendable_problem,
)

__all__ = [
    "CLAIM_LEASE",
    "ToSend",
    "claim_request",
    "claimer_alive",
    "new_claim",
    "read_for_sending",
    "to_addresses",
    "why_not_claimed",
]

# How long a claim made on another computer counts as alive. A claim lasts one SMTP
# transaction (each step bounded by `smtp_timeout`) and a few seconds until its answer is
# committed (`run.ANSWER_WAIT_SECONDS`), so a claim this old belongs to a sender that is gone;
# on this computer a dead sender is seen at once (`claimer_alive`).
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
class ToSend:
    """A message read for sending: its metadata and the exact bytes that will go out."""

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


def read_for_sending(outbox: Outbox, message_id: str) -> ToSend | str:
    """The message and its bytes if they may be sent now, else why not.

    The bytes must be exactly the approved ones and the envelope exactly the To header of those
    bytes: the approval's hash covers the bytes (and so their To), not the metadata the
    envelope is taken from. The approval itself must be one the journal holds for this version.
    """
    found = outbox.with_contents([message_id]).get(message_id)
    if found is None:
        return "message missing from the outbox"
    stored, data = found
    problem = sendable_problem(outbox, stored, now_in_amsterdam(), data)
    if problem is None and _normalised(stored.to) != _normalised(to_addresses(data)):
        problem = "recipients differ from the approved letter's To (not sent)"
    if problem is None and stored.approval is not None:
        # A state and an approval written into the database by hand have no journal line.
        problem = approval_not_on_record(
            stored.approval, outbox.histories([message_id])[message_id]
        )
    return problem or ToSend(stored, data)


def _normalised(addresses: list[str]) -> list[str]:
    return sorted(address.lower() for address in addresses)


class _NotSendable(OutboxError):
    pass


def claim_request(to_send: ToSend, by: str, claim: Claim) -> TransitionRequest:
    """The claim of a message read with `read_for_sending`, made just before DATA: refused
    unless the message is still approved and still holds the bytes that were read."""
    read = to_send.stored

    def take(current: StoredMessage) -> dict[str, object]:
        if (current.sha256, current.approval) != (read.sha256, read.approval):
            raise _NotSendable(CHANGED_AFTER_APPROVAL)
        return {"claim": claim}

    return TransitionRequest(
        read.id,
        State.SENDING,
        by,
        note="handed over to the server",
        only_from=frozenset({State.APPROVED}),
        change=take,
    )


def why_not_claimed(error: OutboxError) -> str:
    """The reason to report for a claim that was refused."""
    if not isinstance(error, TransitionNotAllowed):
        return str(error)
    return TAKEN_BY_ANOTHER_SENDER if error.current in TAKEN_STATES else NO_LONGER_APPROVED
