"""Approving and rejecting messages: a named person's decision about exact bytes.

The CLI and the review web page both call these functions, so the rules (four eyes, the hash of
what was shown, the template's sign-off) are the same wherever a person decides.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from mailer.clock import now_in_amsterdam
from mailer.config import Settings
from mailer.errors import ApprovalRefused, MessageNotFound, OutboxError
from mailer.letters.template_signoff import signed_versions
from mailer.outbox.store import (
    Approval,
    Outbox,
    Rejection,
    State,
    StoredMessage,
    TransitionRequest,
    sha256_hex,
)
from mailer.text_safety import has_control_characters
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


def check_person_name(name: str, role: str = "--by") -> str:
    """A reviewer's name as given, refused when empty or holding control characters."""
    cleaned = name.strip()
    if not cleaned or has_control_characters(cleaned) or len(cleaned) > 80:
        raise OutboxError(f"{role}: give the name of the person who decides, e.g. --by 'Anna'")
    return cleaned


def template_signed_off(stored: StoredMessage, policy: ReviewPolicy) -> bool:
    if policy.signed_template_versions is None:
        return True
    return stored.template_version in policy.signed_template_versions


def _approval(
    stored: StoredMessage,
    current: str,
    by: str,
    policy: ReviewPolicy,
    shown_sha256: str | None,
    override_template: bool,
) -> tuple[Approval, str]:
    """The approval of `by` for this message whose bytes hash to `current`, with its journal
    note; ApprovalRefused names the rule that stands in the way."""
    message_id = stored.id
    if policy.four_eyes and stored.queued_by.casefold() == by.casefold():
        raise ApprovalRefused(
            message_id,
            "four_eyes",
            f"{by} queued this message; four eyes are required, so someone else must approve it",
        )
    if shown_sha256 is not None and shown_sha256 != current:
        raise ApprovalRefused(
            message_id,
            "stale",
            "the message changed after you opened it; reload it and review it again",
        )
    if stored.state == State.APPROVED and stored.approval and stored.approval.sha256 == current:
        raise ApprovalRefused(
            message_id,
            "already_approved",
            f"already approved by {stored.approval.by}",
            approved_by=stored.approval.by,
        )
    signed = template_signed_off(stored, policy)
    if not signed and not override_template:
        raise ApprovalRefused(
            message_id,
            "unsigned_template",
            f"rendered from template version {stored.template_version}, which the team has not "
            "signed off; run `mailer template approve --by NAME`, or approve with "
            "--unsigned-template if you accept this letter anyway",
        )
    approval = Approval(by=by, at=now_in_amsterdam(), sha256=current, template_override=not signed)
    note = "approved" if signed else "approved although the template version has no sign-off"
    return approval, note


def _unless_changed_since(
    read: StoredMessage, approval: Approval
) -> Callable[[StoredMessage], dict[str, object]]:
    """The approval's fields, refused when the message was rendered again after it was read."""

    def change(current: StoredMessage) -> dict[str, object]:
        if (current.sha256, current.template_version) != (read.sha256, read.template_version):
            raise ApprovalRefused(
                read.id, "stale", "the message changed meanwhile; review it again"
            )
        return {"approval": approval, "rejection": None}

    return change


def approve_many(
    outbox: Outbox,
    message_ids: Sequence[str],
    by: str,
    policy: ReviewPolicy,
    *,
    shown_sha256: str | None = None,
    override_template: bool = False,
) -> dict[str, OutboxError]:
    """Approve each message's current bytes under `by`'s name, in one transaction; return why
    each refused message was refused (a refusal stops no other approval). The messages are
    read a page at a time, so memory stays flat however many there are.

    `shown_sha256` is the hash of what the reviewer saw (the web page sends it for one
    message): a message that changed since then is refused instead of approved unseen.
    """
    by = check_person_name(by)
    refused: dict[str, OutboxError] = {}
    with outbox.one_transaction():
        for start in range(0, len(message_ids), _PAGE):
            page = message_ids[start : start + _PAGE]
            found = outbox.with_contents(page)
            requests: list[TransitionRequest] = []
            for message_id in page:
                if message_id not in found:
                    refused[message_id] = MessageNotFound(f"{message_id}: no such message")
                    continue
                stored, data = found[message_id]
                try:
                    approval, note = _approval(
                        stored, sha256_hex(data), by, policy, shown_sha256, override_template
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
    """Approve one message (see `approve_many`); raise why it cannot be."""
    refused = approve_many(
        outbox,
        [message_id],
        by,
        policy,
        shown_sha256=shown_sha256,
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
        raise OutboxError(f"{message_id}: give a reason, e.g. --reason 'wrong date'")
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
    stored: StoredMessage, current_sha256: str, by: str, policy: ReviewPolicy
) -> ApprovalRefused | None:
    """Why `by` may not approve these bytes now (the rule that would refuse), or None when they
    may: the review page offers only what is allowed, by the same rules `approve` applies."""
    try:
        # The page shows exactly these bytes, so they count as the version the reviewer saw.
        _approval(stored, current_sha256, by, policy, current_sha256, False)
    except ApprovalRefused as refusal:
        return refusal
    return None
