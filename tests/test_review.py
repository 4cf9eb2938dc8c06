"""Approving and rejecting: who, when, which bytes, and the rules around them."""

from __future__ import annotations

import pytest

from mailer.errors import ApprovalRefused, OutboxError, TransitionNotAllowed
from mailer.outbox.store import Outbox, State, StoredMessage
from mailer.review.decisions import ReviewPolicy, approve, reject
from mailer.review.summary import message_problems, message_summary
from mailer.workspace import Workspace
from tests.tampering import replace_message_keeping_approval
from tests.test_outbox import queue_one

OPEN = ReviewPolicy()


@pytest.fixture
def queued(workspace: Workspace) -> tuple[Outbox, StoredMessage]:
    return queue_one(workspace)


def test_approval_records_who_when_and_the_exact_bytes(
    queued: tuple[Outbox, StoredMessage],
) -> None:
    outbox, stored = queued
    approved = approve(outbox, stored.id, "Anna", OPEN)
    assert approved.state == State.APPROVED
    assert approved.approval is not None
    assert approved.approval.by == "Anna"
    assert approved.approval.sha256 == stored.sha256
    assert approved.approval.at.tzinfo is not None


def test_bytes_changed_after_approval_make_the_approval_void_until_approved_again(
    queued: tuple[Outbox, StoredMessage],
) -> None:
    outbox, stored = queued
    approve(outbox, stored.id, "Anna", OPEN)
    changed = outbox.read_bytes(stored.id).replace(b"Dolfijnen", b"Zeepaardjes")
    replace_message_keeping_approval(outbox, stored.id, changed)
    problems = message_problems(outbox, outbox.load(stored.id), OPEN)
    assert problems == ["the message changed after it was approved; review and approve it again"]
    again = approve(outbox, stored.id, "Anna", OPEN)
    assert again.approval is not None and again.approval.sha256 != stored.sha256
    assert message_problems(outbox, again, OPEN) == []


def test_approving_twice_says_it_is_already_approved(queued: tuple[Outbox, StoredMessage]) -> None:
    outbox, stored = queued
    approve(outbox, stored.id, "Anna", OPEN)
    with pytest.raises(OutboxError, match="already approved by Anna"):
        approve(outbox, stored.id, "Fatima", OPEN)


def test_four_eyes_refuses_the_person_who_queued(queued: tuple[Outbox, StoredMessage]) -> None:
    outbox, stored = queued
    with pytest.raises(OutboxError, match="four eyes"):
        approve(outbox, stored.id, "coach", ReviewPolicy(four_eyes=True))
    assert approve(outbox, stored.id, "Anna", ReviewPolicy(four_eyes=True)).state == State.APPROVED


def test_a_stale_view_cannot_approve(queued: tuple[Outbox, StoredMessage]) -> None:
    outbox, stored = queued
    replace_message_keeping_approval(outbox, stored.id, outbox.read_bytes(stored.id) + b"\r\n")
    with pytest.raises(OutboxError, match="changed after you looked at it"):
        approve(outbox, stored.id, "Anna", OPEN, shown_sha256=stored.sha256)
    assert outbox.load(stored.id).state == State.PENDING


def test_unsigned_template_needs_an_explicit_override(queued: tuple[Outbox, StoredMessage]) -> None:
    outbox, stored = queued
    policy = ReviewPolicy(signed_template_versions=frozenset({"another-version"}))
    assert "has no team sign-off" in message_problems(outbox, stored, policy)[0]
    with pytest.raises(OutboxError, match="not signed off"):
        approve(outbox, stored.id, "Anna", policy)
    approved = approve(outbox, stored.id, "Anna", policy, override_template=True)
    assert approved.approval is not None and approved.approval.template_override
    assert message_problems(outbox, approved, policy) == []


def test_reject_needs_a_reason_and_a_name(queued: tuple[Outbox, StoredMessage]) -> None:
    outbox, stored = queued
    with pytest.raises(OutboxError, match="give a reason"):
        reject(outbox, stored.id, "Anna", "  ")
    with pytest.raises(OutboxError, match="give the name"):
        reject(outbox, stored.id, " ", "wrong date")
    rejected = reject(outbox, stored.id, "Anna", "wrong  date")
    assert rejected.rejection is not None and rejected.rejection.reason == "wrong date"


def test_rejected_message_cannot_be_approved(queued: tuple[Outbox, StoredMessage]) -> None:
    outbox, stored = queued
    reject(outbox, stored.id, "Anna", "wrong date")
    with pytest.raises(TransitionNotAllowed, match="rejected"):
        approve(outbox, stored.id, "Fatima", OPEN)


def test_summary_has_the_fields_scripts_rely_on(queued: tuple[Outbox, StoredMessage]) -> None:
    outbox, stored = queued
    summary = message_summary(outbox, approve(outbox, stored.id, "Anna", OPEN), OPEN)
    assert summary["id"] == stored.id
    assert summary["state"] == "approved"
    assert summary["to"] == ["sanne@example.nl", "mark@example.nl"]
    assert summary["approved_by"] == "Anna"
    assert summary["queued_by"] == "Coach"
    assert summary["meeting_at"].endswith(("+01:00", "+02:00"))
    assert summary["last_error"] is None


def test_an_approved_message_shows_no_sign_off_problem_after_the_version_changes(
    queued: tuple[Outbox, StoredMessage],
) -> None:
    outbox, stored = queued
    signed = ReviewPolicy(signed_template_versions=frozenset({stored.template_version}))
    approved = approve(outbox, stored.id, "Anna", signed)
    later = ReviewPolicy(signed_template_versions=frozenset({"a-newer-version"}))
    assert message_problems(outbox, approved, later) == []


def test_each_refusal_names_the_rule_that_refused(queued: tuple[Outbox, StoredMessage]) -> None:
    outbox, stored = queued
    refusals = []
    for attempt in (
        lambda: approve(outbox, stored.id, "coach", ReviewPolicy(four_eyes=True)),
        lambda: approve(outbox, stored.id, "Anna", OPEN, shown_sha256="0" * 64),
        lambda: approve(outbox, stored.id, "Anna", ReviewPolicy(signed_template_versions=())),
    ):
        with pytest.raises(ApprovalRefused) as caught:
            attempt()
        refusals.append(caught.value.rule)
    approve(outbox, stored.id, "Anna", OPEN)
    with pytest.raises(ApprovalRefused) as caught:
        approve(outbox, stored.id, "Fatima", OPEN)
    assert [*refusals, caught.value.rule] == [
        "four_eyes",
        "stale",
        "unsigned_template",
        "already_approved",
    ]
    assert caught.value.approved_by == "Anna"
