"""Approving and rejecting from the page, through `mailer.review.decisions` as the CLI does.

When the review code refuses, it names the rule that refused (`ApprovalRefused.rule`); the page
words what happened and what to do from the catalog, without reading the error's text.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.errors import ApprovalRefused, MailerError, MessageNotFound, TransitionNotAllowed
from mailer.outbox.store import Outbox, State
from mailer.review.decisions import ReviewPolicy, approve, reject
from mailer.web.texts import MESSAGES, plain, state_name

__all__ = ["Outcome", "approve_as_shown", "reject_with_reason"]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str


def _child(outbox: Outbox, message_id: str) -> str:
    try:
        return outbox.load(message_id).child_name
    except MessageNotFound:
        return message_id


def _why_refused(outbox: Outbox, message_id: str, error: MailerError) -> str:
    """The reason for a refusal: the review code names the rule, the page words it."""
    if isinstance(error, MessageNotFound):
        return MESSAGES["not_found"].format(id=message_id)
    stored = outbox.load(message_id)
    child = stored.child_name
    if isinstance(error, TransitionNotAllowed):
        return MESSAGES["wrong_state"].format(child=child, state=state_name(State(error.current)))
    if isinstance(error, ApprovalRefused):
        if error.rule == "already_approved":
            return MESSAGES["already_approved"].format(child=child, by=error.approved_by)
        if error.rule == "unsigned_template":
            return MESSAGES["unsigned_template"].format(
                child=child, version=stored.template_version
            )
        if error.rule in {"four_eyes", "stale"}:
            return MESSAGES[error.rule].format(child=child)
    return MESSAGES["other"].format(child=child, detail=plain(str(error)))


def approve_as_shown(
    outbox: Outbox, message_id: str, reviewer: str, review: ReviewPolicy, shown_sha256: str
) -> Outcome:
    """Approve the bytes whose hash the page showed; no override of a missing template sign-off
    is offered here (that stays a deliberate step on the command line)."""
    try:
        stored = approve(outbox, message_id, reviewer, review, shown_sha256=shown_sha256)
    except MailerError as error:
        try:
            text = _why_refused(outbox, message_id, error)
        except MailerError:
            text = MESSAGES["other"].format(child=message_id, detail=plain(str(error)))
        return Outcome(False, text)
    return Outcome(True, MESSAGES["approved"].format(child=stored.child_name, id=stored.id))


def reject_with_reason(outbox: Outbox, message_id: str, reviewer: str, reason: str) -> Outcome:
    if not " ".join(reason.split()):
        return Outcome(False, MESSAGES["reason_missing"].format(child=_child(outbox, message_id)))
    try:
        stored = reject(outbox, message_id, reviewer, reason)
    except MessageNotFound:
        return Outcome(False, MESSAGES["not_found"].format(id=message_id))
    except TransitionNotAllowed as error:
        state = state_name(State(error.current))
        child = _child(outbox, message_id)
        return Outcome(False, MESSAGES["wrong_state"].format(child=child, state=state))
    except MailerError as error:
        child = _child(outbox, message_id)
        return Outcome(False, MESSAGES["other"].format(child=child, detail=plain(str(error))))
    return Outcome(True, MESSAGES["rejected"].format(child=stored.child_name, id=stored.id))
