"""One message described for people and scripts: the fields of `mailer list --json`, the rows of
the CLI table and the review page, with any problem in plain words.

The CLI and the web page both use this, so they always tell the same story.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailer.outbox.store import Outbox, State, StoredMessage
from mailer.review.decisions import ReviewPolicy, template_signed_off
from mailer.review.versions import version_code

__all__ = ["Problem", "approval_problem", "message_problems", "message_summary", "problems_of"]


def approval_problem(stored: StoredMessage) -> str | None:
    """Why an approved message may not be sent as it is, or None when it may.

    The store writes a message's bytes and their hash together, so the hash tells; the bytes
    themselves are hashed again when a message is approved and when it is claimed for sending,
    so bytes changed behind the store's back are caught there.
    """
    if stored.approval is None:
        return "not approved"
    if stored.sha256 != stored.approval.sha256:
        return "the message changed after it was approved; review and approve it again"
    return None


@dataclass(frozen=True)
class Problem:
    """One thing a reviewer should know, as a code and its data, so that each front (the CLI,
    the page) can word it in its own language; `str()` gives the English line.

    Codes: `not_approved`, `changed_after_approval`, `unsigned_template` (data `version`),
    `send_error` (data `error`: the server's or the sender's own words), `not_delivered` (data
    `addresses`), `unknown_outcome`.
    """

    code: str
    data: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        if self.code == "not_approved":
            return "not approved"
        if self.code == "changed_after_approval":
            return "the message changed after it was approved; review and approve it again"
        if self.code == "unsigned_template":
            return f"template version {self.data['version']} has no team sign-off"
        if self.code == "send_error":
            return self.data["error"]
        if self.code == "not_delivered":
            return f"not delivered to {self.data['addresses']}"
        return "it may or may not have arrived; decide with `mailer resolve`"


def problems_of(stored: StoredMessage, policy: ReviewPolicy) -> list[Problem]:
    """What a reviewer should know before this message can go out, as codes with their data."""
    problems = []
    if stored.state == State.APPROVED and approval_problem(stored):
        code = "not_approved" if stored.approval is None else "changed_after_approval"
        problems.append(Problem(code))
    # Only a message still waiting for review needs a signed-off template: an approval already
    # given (with or without the override) covers the exact bytes, whatever its version label.
    if stored.state == State.PENDING and not template_signed_off(stored, policy):
        problems.append(Problem("unsigned_template", {"version": stored.template_version}))
    if stored.state in {State.FAILED, State.UNKNOWN, State.APPROVED} and stored.last_error:
        problems.append(Problem("send_error", {"error": stored.last_error}))
    if stored.delivery and stored.delivery.refused:
        refused = ", ".join(sorted(stored.delivery.refused))
        problems.append(Problem("not_delivered", {"addresses": refused}))
    if stored.state == State.UNKNOWN:
        problems.append(Problem("unknown_outcome"))
    return problems


def message_problems(outbox: Outbox, stored: StoredMessage, policy: ReviewPolicy) -> list[str]:
    """What a reviewer should know before this message can go out, in plain English words."""
    return [str(problem) for problem in problems_of(stored, policy)]


def message_summary(outbox: Outbox, stored: StoredMessage, policy: ReviewPolicy) -> dict[str, Any]:
    """The JSON object for one message (at least the fields `list --json` promises)."""
    return {
        "id": stored.id,
        "state": stored.state.value,
        "kind": stored.kind,
        "to": list(stored.to),
        "subject": stored.subject,
        "child_name": stored.child_name,
        "meeting_at": stored.meeting_at.isoformat(),
        "language": stored.language,
        "message_id": stored.message_id,
        "queued_by": stored.queued_by,
        "queued_at": stored.created_at.isoformat(),
        "approved_by": stored.approval.by if stored.approval else None,
        "approved_at": stored.approval.at.isoformat() if stored.approval else None,
        "rejected_by": stored.rejection.by if stored.rejection else None,
        "rejection_reason": stored.rejection.reason if stored.rejection else None,
        "template_version": stored.template_version,
        "sha256": stored.sha256,
        "version_code": version_code(stored.sha256),
        "last_error": stored.last_error,
        "problems": message_problems(outbox, stored, policy),
    }
