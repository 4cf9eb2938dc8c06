"""Approving and rejecting messages: a named person's decision about exact bytes.

The CLI and the review web page both call these functions, so the rules (four eyes, the hash of
what was shown, the template's sign-off) are the same wherever a person decides.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from mailer.clock import now_in_amsterdam
from mailer.config import Settings
from mailer.errors import ApprovalRefused, MessageNotFound, OutboxError
from mailer.i18n import _
from mailer.letters.template_signoff import signed_versions
from mailer.outbox.store import (
    Approval,
    HistoryEntry,
    Outbox,
    Rejection,
    State,
    StoredMessage,
    TransitionRequest,
    sha256_hex,
)
from mailer.review.names import check_person_name, same_person
from mailer.review.versions import (
    approval_not_on_record,
    changed_since_queued,
    made_by,
    shows_version,
)
from mailer.workspace import Workspace

__all__ = [
    "ReviewPolicy",
    "approval_refusal",
    "approve",
    "approve_many",
    "check_person_name",
    "reject",
    "review_policy",
    "template_signed_off",
]

# Messages approved per read: their letters are held in memory together.
_PAGE = 500


@dataclass(frozen=True)
class ReviewPolicy:
    """The workspace's rules for approving.

    `signed_template_versions` is None when template sign-off is not tracked in this workspace;
    otherwise a message rendered from a version outside it needs an explicit override.
    """

    four_eyes: bool = False
    signed_template_versions: Collection[str] | None = None


def template_signed_off(stored: StoredMessage, policy: ReviewPolicy) -> bool:
    if policy.signed_template_versions is None:
        return True
    return stored.template_version in policy.signed_template_versions


def _check_four_eyes(stored: StoredMessage, history: Sequence[HistoryEntry], by: str) -> None:
    """Refuse `by` when they made or changed the letter: four eyes means someone else reads it."""
    makers = made_by(stored.queued_by, history)
    if not any(same_person(by, maker) for maker in makers):
        return
    if same_person(by, stored.queued_by):
        text = _(
            "{by} queued this message; four eyes are required, so someone else must approve it"
        )
    else:
        text = _(
            "{by} changed this message (queued it again with changes or rendered it again); "
            "four eyes are required, so someone who did not make or change it must approve it"
        )
    raise ApprovalRefused(stored.id, "four_eyes", text.format(by=by))


def _approval(
    stored: StoredMessage,
    history: Sequence[HistoryEntry],
    current: str,
    by: str,
    policy: ReviewPolicy,
    shown: str | None,
    override_template: bool,
) -> tuple[Approval, str]:
    """The approval of `by` for this message whose bytes hash to `current`, with its journal
    note; ApprovalRefused names the rule that stands in the way.

    `shown` is the version the reviewer saw (its SHA-256 or its version code), if known.
    """
    message_id = stored.id
    if policy.four_eyes:
        _check_four_eyes(stored, history, by)
    if shown is not None and not shows_version(shown, current):
        raise ApprovalRefused(
            message_id,
            "stale",
            _(
                "the message changed after you looked at it; read it again with "
                "`mailer show {id}` and approve the version you read"
            ).format(id=message_id),
        )
    approval = stored.approval
    if (
        stored.state == State.APPROVED
        and approval is not None
        and approval.sha256 == current
        and approval_not_on_record(approval, history) is None
    ):
        raise ApprovalRefused(
            message_id,
            "already_approved",
            _("already approved by {by}").format(by=approval.by),
            approved_by=approval.by,
        )
    if shown is None and changed_since_queued(history):
        # Its recipients or its letter may differ from what the reviewer read earlier.
        raise ApprovalRefused(
            message_id,
            "unseen_change",
            _(
                "changed after it was first queued; run `mailer show {id}` and approve it as "
                "`mailer approve {id}@CODE` with the version code shown there"
            ).format(id=message_id),
        )
    signed = template_signed_off(stored, policy)
    if not signed and not override_template:
        raise ApprovalRefused(
            message_id,
            "unsigned_template",
            _(
                "rendered from template version {version}, which the team has not signed off; "
                "run `mailer template approve --by NAME`, or approve with --unsigned-template "
                "if you accept this letter anyway"
            ).format(version=stored.template_version),
        )
    made = Approval(by=by, at=now_in_amsterdam(), sha256=current, template_override=not signed)
    note = "approved" if signed else "approved although the template version has no sign-off"
    return made, note


def _unless_changed_since(
    read: StoredMessage, approval: Approval
) -> Callable[[StoredMessage], dict[str, object]]:
    """The approval's fields, refused when the message was rendered again after it was read."""

    def change(current: StoredMessage) -> dict[str, object]:
        if (current.sha256, current.template_version) != (read.sha256, read.template_version):
            raise ApprovalRefused(
                read.id, "stale", _("the message changed meanwhile; review it again")
            )
        return {"approval": approval, "rejection": None}

    return change


def approve_many(
    outbox: Outbox,
    message_ids: Sequence[str],
    by: str,
    policy: ReviewPolicy,
    *,
    shown: Mapping[str, str] | None = None,
    override_template: bool = False,
) -> dict[str, OutboxError]:
    """Approve each message's current bytes under `by`'s name, in one transaction; return why
    each refused message was refused (a refusal stops no other approval). The messages are
    read a page at a time, so memory stays flat however many there are.

    `shown` maps a message ID to the version the reviewer saw: its SHA-256 (the web page) or
    its version code (`mailer approve ID@CODE`). A message that changed since then is refused
    instead of approved unseen, and so is a message changed since it was first queued when
    nothing says which version the reviewer saw.
    """
    by = check_person_name(by)
    shown = shown or {}
    refused: dict[str, OutboxError] = {}
    with outbox.one_transaction():
        for start in range(0, len(message_ids), _PAGE):
            page = message_ids[start : start + _PAGE]
            found = outbox.with_contents(page)
            histories = outbox.histories(list(found))
            requests: list[TransitionRequest] = []
            for message_id in page:
                if message_id not in found:
                    refused[message_id] = MessageNotFound(f"{message_id}: no such message")
                    continue
                stored, data = found[message_id]
                try:
                    approval, note = _approval(
                        stored,
                        histories[message_id],
                        sha256_hex(data),
                        by,
                        policy,
                        shown.get(message_id),
                        override_template,
                    )
                except ApprovalRefused as refusal:
                    refused[message_id] = refusal
                    continue
                requests.append(
                    TransitionRequest(
                        message_id,
                        State.APPROVED,
                        by,
                        note=note,
                        only_from=frozenset({State.PENDING, State.APPROVED}),
                        change=_unless_changed_since(stored, approval),
                    )
                )
            for request, result in zip(requests, outbox.transition_many(requests), strict=True):
                if isinstance(result, OutboxError):
                    refused[request.message_id] = result
    return refused


def approve(
    outbox: Outbox,
    message_id: str,
    by: str,
    policy: ReviewPolicy,
    *,
    shown_sha256: str | None = None,
    override_template: bool = False,
) -> StoredMessage:
    """Approve one message (see `approve_many`); `shown_sha256` is the hash of the bytes the
    reviewer saw. Raise why it cannot be approved."""
    refused = approve_many(
        outbox,
        [message_id],
        by,
        policy,
        shown=None if shown_sha256 is None else {message_id: shown_sha256},
        override_template=override_template,
    )
    if message_id in refused:
        raise refused[message_id]
    return outbox.load(message_id)


def reject(outbox: Outbox, message_id: str, by: str, reason: str) -> StoredMessage:
    """Reject the message under `by`'s name; the reason is kept in its history."""
    by = check_person_name(by)
    reason = " ".join(reason.split())
    if not reason:
        raise OutboxError(
            _("{id}: give a reason, e.g. --reason 'wrong date'").format(id=message_id)
        )
    rejection = Rejection(by=by, at=now_in_amsterdam(), reason=reason)
    return outbox.transition(
        message_id,
        State.REJECTED,
        by=by,
        note="rejected (the reason is kept with the message)",
        only_from=frozenset({State.PENDING, State.APPROVED, State.FAILED}),
        change=lambda _: {"rejection": rejection, "approval": None},
    )


def review_policy(workspace: Workspace, settings: Settings) -> ReviewPolicy:
    """The rules of this workspace, read from its configuration."""
    return ReviewPolicy(
        four_eyes=settings.four_eyes, signed_template_versions=signed_versions(workspace)
    )


def approval_refusal(
    stored: StoredMessage,
    history: Sequence[HistoryEntry],
    current_sha256: str,
    by: str,
    policy: ReviewPolicy,
) -> ApprovalRefused | None:
    """Why `by` may not approve these bytes now (the rule that would refuse), or None when they
    may: the review page offers only what is allowed, by the same rules `approve` applies."""
    try:
        # The page shows exactly these bytes, so they count as the version the reviewer saw.
        _approval(stored, history, current_sha256, by, policy, current_sha256, False)
    except ApprovalRefused as refusal:
        return refusal
    return None
