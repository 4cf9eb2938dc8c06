"""Messages that change after they were queued: a record queued again with a new date, a
re-render after the template or configuration changed, and a cancellation.

Before an invitation is sent it is simply replaced (same outbox ID and Message-ID, approval
withdrawn); after it was sent the parents get a follow-up with the same calendar UID and a higher
SEQUENCE, which waits for approval like every message. All bytes come from `Composer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from typing import Any, Literal

from mailer.clock import now_in_amsterdam
from mailer.errors import MailerError, OutboxError
from mailer.i18n import _, state_name
from mailer.intake.records import IntakeRecord
from mailer.letters.compose import ComposedMessage, Composer
from mailer.letters.context import LetterKind
from mailer.outbox.store import Outbox, RecordAlreadyQueued, State, StoredMessage

__all__ = [
    "Change",
    "cancel_meeting",
    "previous_sent",
    "queue_again",
    "rerender",
    "same_content",
    "stored_record",
]

UNSENT = frozenset({State.PENDING, State.APPROVED, State.REJECTED, State.FAILED})
IN_FLIGHT = frozenset({State.SENDING, State.UNKNOWN})

Action = Literal["unchanged", "replaced", "updated", "already_sent", "rendered", "cancelled"]


@dataclass(frozen=True)
class Change:
    """What happened to one message, with the message as it is now."""

    action: Action
    message: StoredMessage
    note: str = ""


def stored_record(stored: StoredMessage, now: datetime | None = None) -> IntakeRecord:
    """The record a message was made from; with `now`, refused when its meeting has passed."""
    if not stored.record:
        raise OutboxError(
            _("{id}: its content was removed, so it cannot be rendered again").format(id=stored.id)
        )
    try:
        context: dict[str, object] = {"now": now} if now else {"stored": True}
        return IntakeRecord.model_validate(stored.record, context=context)
    except ValueError as error:
        first = str(error).splitlines()[-1].strip() if str(error) else _("invalid record")
        raise OutboxError(
            _("{id}: cannot be rendered again: {problem}").format(id=stored.id, problem=first)
        ) from None


def previous_sent(outbox: Outbox, stored: StoredMessage) -> StoredMessage | None:
    """The latest message of the same meeting (calendar UID) that was sent, other than `stored`."""
    sent = [
        message
        for message in outbox.messages(State.SENT)
        if message.calendar_uid == stored.calendar_uid and message.id != stored.id
    ]
    return max(sent, key=lambda message: message.calendar_sequence, default=None)


def _previous_record(outbox: Outbox, stored: StoredMessage) -> IntakeRecord | None:
    earlier = previous_sent(outbox, stored)
    if earlier is None or not earlier.record:
        return None
    return stored_record(earlier)


def _content_parts(data: bytes) -> list[Any]:
    parsed = message_from_bytes(data, policy=policy.default)
    parts: list[Any] = [
        (name, str(value)) for name, value in parsed.items() if name != "Content-Type"
    ]
    for part in parsed.walk():
        if part.is_multipart():
            parts.append(part.get_content_type())
            continue
        params = [(key, value) for key, value in part.get_params() or [] if key != "boundary"]
        parts.append((params, part.get_filename(), part.get_payload(decode=True)))
    return parts


def same_content(first: bytes, second: bytes) -> bool:
    """True when two messages say exactly the same, whatever their MIME boundaries."""
    return _content_parts(first) == _content_parts(second)


def _fields_from(draft: StoredMessage) -> dict[str, Any]:
    """The metadata that a newly rendered message brings, for `Outbox.transition(change=...)`."""
    names = (
        "kind",
        "subject",
        "to",
        "child_name",
        "meeting_at",
        "language",
        "record",
        "record_fingerprint",
        "template_version",
        "created_at",
        "calendar_uid",
        "calendar_sequence",
    )
    fields = {name: getattr(draft, name) for name in names}
    fields.update(approval=None, rejection=None, last_error=None, next_attempt_at=None)
    return fields


def _withdrawn(stored: StoredMessage) -> str:
    if stored.state == State.APPROVED and stored.approval is not None:
        return f"; the approval by {stored.approval.by} is withdrawn, review it again"
    return ""


def _store_replacement(
    outbox: Outbox, stored: StoredMessage, composed: ComposedMessage, by: str, reason: str
) -> StoredMessage:
    draft = composed.draft
    return outbox.transition(
        stored.id,
        State.PENDING,
        by=by,
        note=reason + _withdrawn(stored),
        only_from=UNSENT,
        change=lambda _: _fields_from(draft),
        new_bytes=composed.data,
    )


def _store_follow_up(
    outbox: Outbox, record: IntakeRecord, composed: ComposedMessage, by: str
) -> StoredMessage:
    """Add an update or cancellation and make the record's key point at it.

    The follow-up has its own key (`KEY.SEQUENCE`), so a crash between the two steps is repaired
    by queueing again: the follow-up is found instead of made twice.
    """
    try:
        added = outbox.add(composed.draft, composed.data, by=by)
    except RecordAlreadyQueued as already:
        added = outbox.load(already.existing_id)
    outbox.replace_key(record.dedup_key, added.id)
    return added


def _meeting_moved(stored: StoredMessage, record: IntakeRecord) -> bool:
    earlier = stored.record or {}
    return (
        stored.meeting_at != record.meeting_at
        or earlier.get("location") != record.location
        or earlier.get("duration_minutes") != record.duration_minutes
    )


def queue_again(
    outbox: Outbox, composer: Composer, existing_id: str, record: IntakeRecord, by: str
) -> Change:
    """A record whose key is already in the outbox (as `existing_id`) was queued again."""
    stored = outbox.load(existing_id)
    if stored.record_fingerprint == record.content_fingerprint:
        return Change("unchanged", stored)
    if stored.state in IN_FLIGHT:
        raise OutboxError(
            _(
                "{id}: is being sent or its delivery is unknown; settle that first "
                "(`mailer show ID`), then queue the record again"
            ).format(id=stored.id)
        )
    if stored.state == State.SENT:
        if not _meeting_moved(stored, record):
            return Change(
                "already_sent",
                stored,
                "already sent; only a new date, time or place makes an updated invitation",
            )
        previous = stored_record(stored) if stored.record else None
        sequence = stored.calendar_sequence + 1
        composed = composer.compose(
            record,
            by,
            kind="update",
            previous=previous,
            sequence=sequence,
            record_key=f"{record.dedup_key}.{sequence}",
        )
        return Change("updated", _store_follow_up(outbox, record, composed, by))
    kind: LetterKind = "invitation" if stored.kind == "invitation" else "update"
    composed = composer.compose(
        record,
        by,
        kind=kind,
        previous=_previous_record(outbox, stored) if kind == "update" else None,
        message_id=stored.message_id,
        sequence=stored.calendar_sequence,
        record_key=stored.record_key,
    )
    reason = "replaced: the record was queued again with changes before it was sent"
    replaced = _store_replacement(outbox, stored, composed, by, reason)
    return Change("replaced", replaced, replaced.history[-1].note)


def rerender(outbox: Outbox, composer: Composer, message_id: str, by: str) -> Change:
    """Render a pending or approved message again with the current templates and settings."""
    stored = outbox.load(message_id)
    if stored.state not in {State.PENDING, State.APPROVED}:
        raise OutboxError(
            _(
                "{id}: is {state}; only messages waiting for review or approved are rendered again"
            ).format(id=stored.id, state=state_name(stored.state.value))
        )
    record = stored_record(
        stored, now=None if stored.kind == "cancellation" else now_in_amsterdam()
    )
    composed = composer.compose(
        record,
        stored.queued_by,
        kind=stored.kind,
        previous=_previous_record(outbox, stored) if stored.kind == "update" else None,
        message_id=stored.message_id,
        created_at=stored.created_at,
        sequence=stored.calendar_sequence,
        record_key=stored.record_key,
    )
    if same_content(outbox.read_bytes(stored.id), composed.data):
        if stored.template_version == composed.draft.template_version:
            return Change("unchanged", stored)
        version = composed.draft.template_version
        kept = outbox.transition(
            stored.id,
            stored.state,
            by=by,
            note=f"rendered again with template version {version}; the letter did not change",
            only_from=frozenset({stored.state}),
            change=lambda _: {"template_version": version},
        )
        return Change("unchanged", kept)
    reason = "rendered again after the template or the configuration changed"
    rendered = _store_replacement(outbox, stored, composed, by, reason)
    return Change("rendered", rendered, rendered.history[-1].note)


def _cancel_unsent_update(
    outbox: Outbox, composer: Composer, stored: StoredMessage, by: str
) -> Change:
    # The parents only know the meeting from the invitation that was sent: cancel that one.
    previous = _previous_record(outbox, stored)
    if previous is None:
        raise OutboxError(
            _(
                "{id}: the earlier invitation's details were removed; tell the parents yourself"
            ).format(id=stored.id)
        )
    composed = composer.compose(
        previous,
        by,
        kind="cancellation",
        message_id=stored.message_id,
        sequence=stored.calendar_sequence,
        record_key=stored.record_key,
    )
    reason = "replaced by a cancellation before it was sent"
    cancelled = _store_replacement(outbox, stored, composed, by, reason)
    return Change("cancelled", cancelled, cancelled.history[-1].note)


def cancel_meeting(outbox: Outbox, composer: Composer, message_id: str, by: str) -> Change:
    """Queue a cancellation (METHOD:CANCEL, same UID) of the meeting of a sent invitation."""
    stored = outbox.load(message_id)
    if stored.kind == "cancellation":
        raise OutboxError(_("{id}: is already a cancellation").format(id=stored.id))
    record = stored_record(stored)
    latest = outbox.message_for_key(record.dedup_key)
    if latest is not None and latest != stored.id:
        raise OutboxError(
            _("{id}: a newer message about this meeting exists ({newer}); cancel that one").format(
                id=stored.id, newer=latest
            )
        )
    if stored.state in IN_FLIGHT:
        raise OutboxError(
            _(
                "{id}: is being sent or its delivery is unknown; settle that first, then cancel"
            ).format(id=stored.id)
        )
    if stored.state != State.SENT:
        if stored.kind == "update" and previous_sent(outbox, stored) is not None:
            return _cancel_unsent_update(outbox, composer, stored, by)
        raise OutboxError(
            _(
                "{id}: was never sent, so the parents have nothing to cancel; "
                "reject it instead with `mailer reject {id} --reason ... --by NAME`"
            ).format(id=stored.id)
        )
    sequence = stored.calendar_sequence + 1
    try:
        composed = composer.compose(
            record,
            by,
            kind="cancellation",
            sequence=sequence,
            record_key=f"{record.dedup_key}.{sequence}",
        )
    except MailerError as error:
        raise OutboxError(
            _("{id}: the cancellation cannot be made: {problem}").format(
                id=stored.id, problem=error
            )
        ) from None
    return Change("cancelled", _store_follow_up(outbox, record, composed, by))
