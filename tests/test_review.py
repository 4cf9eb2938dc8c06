"""Approving and rejecting: who, when, which bytes, and the rules around them."""

from __future__ import annotations

import pytest

from mailer.errors import ApprovalRefused, OutboxError, TransitionNotAllowed
from mailer.outbox.store import Outbox, State, StoredMessage
from mailer.review.decisions import ReviewPolicy, approve, reject
from mailer.review.names import check_person_name, same_person
from mailer.review.summary import message_problems, message_summary
from mailer.review.versions import approval_not_on_record
from mailer.sending.records import retry_failed
from mailer.workspace import Workspace
from tests.tampering import replace_message_keeping_approval
from tests.test_outbox import queue_one

OPEN = ReviewPolicy()


# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


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


FOUR_EYES = ReviewPolicy(four_eyes=True)


def test_a_replaced_letter_needs_the_version_seen_and_someone_who_did_not_change_it(
    queued: tuple[Outbox, StoredMessage],
) -> None:
    outbox, stored = queued
    changed = outbox.read_bytes(stored.id).replace(b"sanne@example.nl", b"other@example.org")
    replaced = outbox.transition(
        stored.id, State.PENDING, by="Bob", note="replaced: queued again", new_bytes=changed
    )
    with pytest.raises(ApprovalRefused) as unseen:
        approve(outbox, stored.id, "Carol", FOUR_EYES)
    assert unseen.value.rule == "unseen_change"
    for person in ("bob", "Coach"):
        with pytest.raises(ApprovalRefused) as four_eyes:
            approve(outbox, stored.id, person, FOUR_EYES, shown_sha256=replaced.sha256)
        assert four_eyes.value.rule == "four_eyes"
    approved = approve(outbox, stored.id, "Carol", FOUR_EYES, shown_sha256=replaced.sha256)
    assert approved.approval is not None and approved.approval.sha256 == replaced.sha256


def test_a_change_to_pending_nobody_listed_counts_as_a_new_version(
    queued: tuple[Outbox, StoredMessage],
) -> None:
    outbox, stored = queued
    outbox.transition(stored.id, State.PENDING, by="Bob", note="some future reason")
    with pytest.raises(ApprovalRefused, match="changed after it was first queued"):
        approve(outbox, stored.id, "Carol", OPEN)


def test_a_retried_unchanged_message_keeps_its_approval_on_record(
    queued: tuple[Outbox, StoredMessage],
) -> None:
    outbox, stored = queued
    approve(outbox, stored.id, "Anna", FOUR_EYES)
    outbox.transition(stored.id, State.FAILED, by="sender", note="refused for good")
    retry_failed(outbox, stored.id, by="Bram")
    retried = outbox.load(stored.id)
    assert retried.state == State.APPROVED
    assert retried.approval is not None and retried.approval.by == "Anna"
    # Sending checks the approval against the journal: a retry is no new version.
    assert approval_not_on_record(retried.approval, retried.history) is None


def test_the_journal_holds_an_approval_made_and_not_one_from_before_a_change(
    queued: tuple[Outbox, StoredMessage],
) -> None:
    outbox, stored = queued
    approved = approve(outbox, stored.id, "Anna", OPEN)
    assert approved.approval is not None
    assert approval_not_on_record(approved.approval, approved.history) is None
    outbox.transition(stored.id, State.PENDING, by="Bob", note="replaced: queued again")
    later = outbox.load(stored.id).history
    assert approval_not_on_record(approved.approval, later) is not None
    forged = approved.approval.model_copy(update={"by": "Fatima"})
    assert approval_not_on_record(forged, approved.history) is not None


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("  Ａｎｎａ ", "Anna"),
        ("Zoë O'Brien-Đorđević", "Zoë O'Brien-Đorđević"),
        ("山田 はなこ", "山田 はなこ"),
        ("Ζωή", "Ζωή"),
    ],
)
def test_names_are_kept_in_compatibility_form(typed: str, kept: str) -> None:
    assert check_person_name(typed) == kept


@pytest.mark.parametrize("typed", ["\u0410nna", "Anna \u03bflsen", "", "a\nb", "x" * 81])
def test_names_that_mix_alphabets_or_are_no_names_are_refused(typed: str) -> None:
    with pytest.raises(OutboxError):
        check_person_name(typed)


def test_names_compare_without_case_and_width() -> None:
    assert same_person("Anna", "ＡＮＮＡ") and same_person("Straße", "STRASSE")
    assert not same_person("Anna", "Anne")
