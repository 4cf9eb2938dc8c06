"""A record queued again with a new date, re-rendering and cancelling, in a real outbox."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from icalendar import Calendar

from mailer.config import load_settings
from mailer.errors import OutboxError
from mailer.letters.compose import Composer
from mailer.letters.rendering import LetterRenderer
from mailer.outbox.queueing import queue_file
from mailer.outbox.rescheduling import cancel_meeting, rerender
from mailer.outbox.store import Outbox, State, StoredMessage
from mailer.review.decisions import ReviewPolicy, approve
from mailer.workspace import Workspace
from tests.conftest import intake_row, write_csv

# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


POLICY = ReviewPolicy(signed_template_versions=None)


def _composer(workspace: Workspace) -> Composer:
    return Composer(load_settings(workspace.root), LetterRenderer(workspace.templates_dir))


def _queue(workspace: Workspace, tmp_path: Path, **row: str) -> tuple[Outbox, list[str]]:
    outbox = Outbox(workspace.outbox_dir)
    path = write_csv(tmp_path / "intake.csv", [intake_row(**row)])
    report = queue_file(path, outbox, _composer(workspace), "coach")
    assert not report.problems
    return outbox, [message.id for message in report.queued]


def _mark_sent(outbox: Outbox, message_id: str) -> None:
    # The sending issue's sender does exactly these two transitions around SMTP.
    approve(outbox, message_id, "reviewer", POLICY)
    outbox.transition(message_id, State.SENDING, by="sender", only_from=frozenset({State.APPROVED}))
    outbox.transition(message_id, State.SENT, by="sender", note="250 OK")


def _event(outbox: Outbox, stored: StoredMessage) -> tuple[str, object]:
    parsed = message_from_bytes(outbox.read_bytes(stored.id), policy=policy.default)
    for part in parsed.walk():
        if part.get_content_type() == "text/calendar":
            calendar = Calendar.from_ical(part.get_payload(decode=True))
            return str(calendar["METHOD"]), calendar.walk("VEVENT")[0]
    raise AssertionError("no calendar part")


def test_new_time_before_sending_replaces_the_message_and_withdraws_approval(
    workspace: Workspace, tmp_path: Path
) -> None:
    outbox, [first] = _queue(workspace, tmp_path, meeting_time="09:30")
    approve(outbox, first, "reviewer", POLICY)
    before = outbox.load(first)
    path = write_csv(tmp_path / "again.csv", [intake_row(meeting_time="11:00")])
    report = queue_file(path, outbox, _composer(workspace), "coach")
    assert report.queued == [] and [row for row, _ in report.replaced] == [2]
    after = outbox.load(first)
    assert after.state == State.PENDING and after.approval is None
    assert after.meeting_at.hour == 11
    assert after.message_id == before.message_id
    assert after.sha256 != before.sha256
    assert "approval by reviewer is withdrawn" in after.history[-1].note
    _, event = _event(outbox, after)
    assert event["SEQUENCE"] == 0  # nothing reached the parents yet
    assert len(outbox.ids()) == 1


def test_new_date_after_sending_makes_an_update_with_same_uid_and_next_sequence(
    workspace: Workspace, tmp_path: Path
) -> None:
    outbox, [first] = _queue(workspace, tmp_path, meeting_date="2027-01-12", meeting_time="09:30")
    _mark_sent(outbox, first)
    path = write_csv(tmp_path / "again.csv", [intake_row(meeting_date="2027-01-14")])
    report = queue_file(path, outbox, _composer(workspace), "coach")
    [update] = report.queued
    assert [stored.id for _, stored in report.updated] == [update.id]
    assert update.kind == "update" and update.state == State.PENDING
    original = outbox.load(first)
    assert update.calendar_uid == original.calendar_uid
    assert update.calendar_sequence == original.calendar_sequence + 1
    method, event = _event(outbox, update)
    assert method == "REQUEST" and event["SEQUENCE"] == 1
    assert str(event["UID"]) == original.calendar_uid
    assert update.subject.startswith("Gewijzigd: ")
    text = message_from_bytes(outbox.read_bytes(update.id), policy=policy.default)
    body = text.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert "niet meer op dinsdag 12 januari 2027 om 9.30 uur" in body
    assert update.message_id != original.message_id  # a new message, not a resend
    # Queueing the same changed file again makes nothing new.
    again = queue_file(path, outbox, _composer(workspace), "coach")
    assert again.queued == [] and [mid for _, mid in again.already_queued] == [update.id]


def test_same_record_after_sending_is_not_sent_again(workspace: Workspace, tmp_path: Path) -> None:
    outbox, [first] = _queue(workspace, tmp_path)
    _mark_sent(outbox, first)
    path = write_csv(tmp_path / "again.csv", [intake_row()])
    report = queue_file(path, outbox, _composer(workspace), "coach")
    assert report.queued == [] and report.already_queued == [(2, first)]


def test_cancel_after_sending_queues_a_cancel_with_the_same_uid(
    workspace: Workspace, tmp_path: Path
) -> None:
    outbox, [first] = _queue(workspace, tmp_path)
    _mark_sent(outbox, first)
    change = cancel_meeting(outbox, _composer(workspace), first, "coach")
    cancellation = change.message
    assert cancellation.kind == "cancellation" and cancellation.state == State.PENDING
    method, event = _event(outbox, cancellation)
    assert method == "CANCEL"
    assert str(event["UID"]) == outbox.load(first).calendar_uid
    assert event["SEQUENCE"] == 1
    assert cancellation.subject.startswith("Afgezegd: ")
    with pytest.raises(OutboxError, match="newer message"):
        cancel_meeting(outbox, _composer(workspace), first, "coach")


def test_cancel_of_an_unsent_invitation_says_to_reject_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    outbox, [first] = _queue(workspace, tmp_path)
    with pytest.raises(OutboxError, match=r"never sent.*mailer reject"):
        cancel_meeting(outbox, _composer(workspace), first, "coach")


def test_rerender_after_template_change_sends_approved_message_back_to_pending(
    workspace: Workspace, tmp_path: Path
) -> None:
    outbox, [first] = _queue(workspace, tmp_path)
    approve(outbox, first, "reviewer", POLICY)
    unchanged = rerender(outbox, _composer(workspace), first, "coach")
    assert unchanged.action == "unchanged"
    assert outbox.load(first).state == State.APPROVED
    template = workspace.templates_dir / "nl" / "letter.txt.j2"
    template.write_text(
        template.read_text(encoding="utf-8").replace("fijne samenwerking", "goede samenwerking"),
        encoding="utf-8",
    )
    changed = rerender(outbox, _composer(workspace), first, "coach")
    assert changed.action == "rendered"
    stored = outbox.load(first)
    assert stored.state == State.PENDING and stored.approval is None
    assert "template or the configuration changed" in stored.history[-1].note
    assert b"goede samenwerking" in outbox.read_bytes(first)
    assert stored.template_version == _composer(workspace).template_version
