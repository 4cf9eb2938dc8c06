"""What the outbox keeps about sending: whether a message may go now, the outcome of each attempt,
a dead sender's message, and a person's decision about an unknown or failed one.

Full server replies (which may name addresses) stay in the message's metadata; the journal gets
them with addresses redacted, because the journal is kept after content is purged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from mailer.clock import now_in_amsterdam
from mailer.config import Settings
from mailer.errors import MessageNotFound, OutboxError
from mailer.i18n import _
from mailer.outbox.store import (
    Attempt,
    Claim,
    Delivery,
    Outbox,
    State,
    StoredMessage,
    TransitionRequest,
    sha256_hex,
)
from mailer.review.decisions import check_person_name
from mailer.sending.delivery import Outcome, TransactionResult, redact_addresses

__all__ = [
    "CHANGED_AFTER_APPROVAL",
    "MESSAGE_FILE_MISSING",
    "NO_LONGER_APPROVED",
    "TAKEN_BY_ANOTHER_SENDER",
    "TAKEN_STATES",
    "WAITING_TO_RETRY",
    "give_back_request",
    "next_attempt_delay",
    "outcome_request",
    "resolve_unknown",
    "retry_failed",
    "sendable_problem",
    "unknown_request",
]

# Reasons for not sending a message now that need nobody's attention (see SendReport.all_well).
NO_LONGER_APPROVED = "no longer approved"
WAITING_TO_RETRY = "waiting to retry after a temporary refusal"
TAKEN_BY_ANOTHER_SENDER = "taken by another sender"
# Only a sender moves an approved message on to these states; `pending` or `rejected` means a
# person decided otherwise.
TAKEN_STATES = frozenset({State.SENDING, State.SENT, State.UNKNOWN, State.FAILED})
# Reasons that need a person (worded for people by `mailer.sending.plan.skip_reason_in_words`).
MESSAGE_FILE_MISSING = "message file missing"
CHANGED_AFTER_APPROVAL = "changed after approval (approve again)"


def sendable_problem(
    outbox: Outbox,
    stored: StoredMessage,
    now: datetime,
    data: bytes | None = None,
    *,
    check_bytes: bool = True,
) -> str | None:
    """Why this message may not be sent now, or None.

    `data` is the message file as read by the caller; what is sent is then exactly those bytes,
    and they are checked against the approval's hash. Without `check_bytes` the message file is
    not read at all (a plan that the claim will check again).
    """
    if stored.state in TAKEN_STATES:
        return TAKEN_BY_ANOTHER_SENDER
    if stored.state != State.APPROVED or stored.approval is None:
        return NO_LONGER_APPROVED
    if check_bytes:
        if data is None:
            try:
                data = outbox.read_bytes(stored.id)
            except MessageNotFound:
                return MESSAGE_FILE_MISSING
        if sha256_hex(data) != stored.approval.sha256:
            return CHANGED_AFTER_APPROVAL
    if stored.next_attempt_at is not None and stored.next_attempt_at > now:
        return WAITING_TO_RETRY
    return None


def next_attempt_delay(settings: Settings, deferred_so_far: int) -> timedelta:
    """The wait before attempt number `deferred_so_far + 1`: doubling from the base delay."""
    minutes = settings.retry_backoff_minutes * 2 ** max(deferred_so_far - 1, 0)
    return timedelta(minutes=min(minutes, 24 * 60))


def _deferred_count(stored: StoredMessage) -> int:
    """Temporary refusals since the current approval or `mailer retry` (a retried message
    starts again)."""
    since = stored.approval.at if stored.approval else None
    if stored.retried_at is not None and (since is None or stored.retried_at > since):
        since = stored.retried_at
    return sum(
        1
        for attempt in stored.attempts
        if attempt.outcome == Outcome.DEFERRED and (since is None or attempt.at >= since)
    )


def _refused_line(refused: dict[str, str]) -> str:
    return "not delivered to " + "; ".join(f"{a} ({reply})" for a, reply in refused.items())


def _outcome_fields(
    stored: StoredMessage, result: TransactionResult, settings: Settings, now: datetime
) -> tuple[State, str, dict[str, Any], str]:
    """(new state, journal note, metadata changes, one line for the person sending)."""
    attempt = Attempt(at=now, outcome=result.outcome.value, reply=result.reply)
    update: dict[str, Any] = {"attempts": [*stored.attempts, attempt], "claim": None}
    if result.outcome == Outcome.SENT:
        update.update(
            delivery=Delivery(at=now, reply=result.reply, refused=result.refused),
            last_error=_refused_line(result.refused) if result.refused else None,
            next_attempt_at=None,
        )
        if result.refused:
            note = f"sent; refused for {len(result.refused)} of {len(stored.to)} recipient(s)"
            return State.SENT, note, update, f"sent, but {_refused_line(result.refused)}"
        return State.SENT, "sent", update, "sent"
    if result.outcome == Outcome.UNKNOWN:
        update["last_error"] = (
            f"{result.reply}; it may have arrived: decide with `mailer resolve ID --sent` "
            "or `--resend`"
        )
        return State.UNKNOWN, "connection lost after DATA began", update, update["last_error"]
    if result.outcome == Outcome.FAILED:
        update["last_error"] = f"refused by the server: {result.reply}"
        return State.FAILED, "refused permanently", update, update["last_error"]
    deferred = _deferred_count(stored) + 1
    if deferred >= settings.retry_max_attempts:
        update["last_error"] = f"gave up after {deferred} temporary refusals: {result.reply}"
        return State.FAILED, f"gave up after {deferred} attempts", update, update["last_error"]
    retry_at = now + next_attempt_delay(settings, deferred)
    update.update(
        next_attempt_at=retry_at, last_error=f"temporary problem, will retry: {result.reply}"
    )
    line = f"{update['last_error']} (from {retry_at:%d-%m-%Y %H:%M})"
    return State.APPROVED, f"deferred (attempt {deferred})", update, line


def _still_claimed_as(claim: Claim | None) -> Callable[[StoredMessage], None]:
    """A check that the message is still held by `claim` (or, without one, still unclaimed): a
    record of an outcome applies only to the claim it belongs to, never to a later one."""

    def check(current: StoredMessage) -> None:
        if current.claim != claim:
            raise OutboxError(_("{id}: claimed again in the meantime").format(id=current.id))

    return check


def outcome_request(
    stored: StoredMessage, result: TransactionResult, settings: Settings, by: str
) -> tuple[TransitionRequest, str, str]:
    """How one attempt's outcome is stored: (the state change, outcome name, one line for the
    sender). `stored` is the message as it was claimed, or as it was read when the server
    refused it before it could be claimed (before DATA)."""
    state, note, update, line = _outcome_fields(stored, result, settings, now_in_amsterdam())
    check = _still_claimed_as(stored.claim)

    def change(current: StoredMessage) -> dict[str, Any]:
        check(current)
        if (current.sha256, current.approval) != (stored.sha256, stored.approval):
            # Rendered or approved again since it was tried: the answer was about another
            # version, so it is not recorded on this one.
            raise OutboxError(_("{id}: changed since it was tried").format(id=current.id))
        return {**update, "attempts": [*current.attempts, update["attempts"][-1]]}

    request = TransitionRequest(
        stored.id,
        state,
        by,
        note=note,
        reply=redact_addresses(result.reply),
        only_from=frozenset({State.SENDING if stored.claim else State.APPROVED}),
        change=change,
    )
    outcome = Outcome.DEFERRED if state == State.APPROVED else Outcome(state.value)
    return request, outcome.value, line


def give_back_request(stored: StoredMessage, why: str, by: str) -> TransitionRequest:
    """Put a claimed message back to `approved` untouched: the server did not take it for a
    reason about the server or the mailbox (slow down, a quota), not about this message, so no
    attempt is counted and it may go in this run or the next."""
    check = _still_claimed_as(stored.claim)

    def change(current: StoredMessage) -> dict[str, Any]:
        check(current)
        return {"claim": None}

    return TransitionRequest(
        stored.id,
        State.APPROVED,
        by,
        note="given back unsent: the server did not take it for now",
        reply=redact_addresses(why),
        only_from=frozenset({State.SENDING}),
        change=change,
    )


def unknown_request(stored: StoredMessage, by: str) -> TransitionRequest:
    """Mark a message whose sender died while it may have been on the wire as `unknown` (if no
    other sender has claimed it since)."""
    check = _still_claimed_as(stored.claim)
    who = f"process {stored.claim.pid}" if stored.claim else "a sender"

    def change(current: StoredMessage) -> dict[str, Any]:
        check(current)
        return {
            "claim": None,
            "last_error": f"the sending {who} stopped while sending; it may or may not have "
            "arrived: decide with `mailer resolve ID --sent` or `--resend`",
        }

    return TransitionRequest(
        stored.id,
        State.UNKNOWN,
        by,
        note=f"the sending {who} stopped while it was sending",
        only_from=frozenset({State.SENDING}),
        change=change,
    )


def _bytes_unchanged(outbox: Outbox, stored: StoredMessage) -> bool:
    try:
        data = outbox.read_bytes(stored.id)
    except MessageNotFound:
        return False
    return stored.approval is not None and sha256_hex(data) == stored.approval.sha256


def resolve_unknown(outbox: Outbox, message_id: str, *, sent: bool, by: str) -> StoredMessage:
    """A person's decision about a message whose delivery is unknown.

    `sent=True` records it as delivered; `sent=False` makes it approved again, so the next
    `mailer send` sends the same bytes with the same Message-ID.
    """
    by = check_person_name(by)
    now = now_in_amsterdam()
    if sent:
        return outbox.transition(
            message_id,
            State.SENT,
            by=by,
            note="marked as delivered by a person",
            only_from=frozenset({State.UNKNOWN}),
            change=lambda _: {
                "delivery": Delivery(at=now, reply=f"marked as delivered by {by}"),
                "last_error": None,
            },
        )
    return outbox.transition(
        message_id,
        State.APPROVED,
        by=by,
        note="to be sent again (same Message-ID), by a person's decision",
        only_from=frozenset({State.UNKNOWN}),
        change=lambda _: {"next_attempt_at": None, "last_error": None, "claim": None},
    )


def retry_failed(outbox: Outbox, message_id: str, *, by: str) -> StoredMessage:
    """Send a failed message again, by a person's decision.

    When its bytes are still exactly the approved ones it goes back to `approved` with its
    approval kept (`failed` -> `approved`), for the next `mailer send`. A message that changed
    goes back for review (`failed` -> `pending`): a person approves it again. The history and
    the journal say why it failed (addresses redacted) and who decided to try again.
    """
    by = check_person_name(by)
    stored = outbox.load(message_id, with_history=False)
    why = redact_addresses(stored.last_error or "no reason recorded")
    unchanged = stored.approval is not None and _bytes_unchanged(outbox, stored)
    if unchanged:
        approval = stored.approval
        now = now_in_amsterdam()

        def keep(current: StoredMessage) -> dict[str, Any]:
            if current.approval != approval or current.sha256 != stored.sha256:
                raise OutboxError(
                    _("{id}: changed in the meantime; try again").format(id=current.id)
                )
            return {"claim": None, "next_attempt_at": None, "last_error": None, "retried_at": now}

        return outbox.transition(
            message_id,
            State.APPROVED,
            by=by,
            note=f"to be sent again, approval kept (bytes unchanged), after it failed ({why})",
            only_from=frozenset({State.FAILED}),
            change=keep,
        )
    return outbox.transition(
        message_id,
        State.PENDING,
        by=by,
        note=f"back to review to be sent again after it failed ({why})",
        only_from=frozenset({State.FAILED}),
        change=lambda _: {
            "approval": None,
            "claim": None,
            "next_attempt_at": None,
            "last_error": None,
        },
    )
