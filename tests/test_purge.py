"""Purging old sent, failed and rejected messages whose meeting has passed: content gone from
every file, the journal keeps a line without it; the command asks first and can say what it
would do."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from mailer.clock import now_in_amsterdam
from mailer.config import load_settings
from mailer.errors import MessageNotFound, OutboxError
from mailer.intake.records import IntakeRecord
from mailer.letters.compose import Composer
from mailer.letters.rendering import LetterRenderer
from mailer.letters.template_signoff import sign_off
from mailer.outbox.purge import purge_before
from mailer.outbox.store import Outbox, State
from mailer.review.decisions import approve, reject, review_policy
from mailer.sending.run import send_approved
from mailer.workspace import Workspace
from tests.conftest import intake_row, open_outbox
from tests.smtp_servers import RecordingHandler, approved_outbox
from tests.test_sending import serve  # noqa: F401  (fixture)

PERSONAL = ("ouder0@example.nl", "ouder1@example.nl", "Zoë", "Tweede ouder")
LATER = timedelta(minutes=1)


def past_meetings(workspace: Workspace, count: int) -> list[str]:
    """Approved messages about meetings two days ago (queued when they were still to come)."""
    settings = load_settings(workspace.root)
    outbox = open_outbox(workspace)
    composer = Composer(settings, LetterRenderer(workspace.templates_dir))
    back_then = {"now": now_in_amsterdam() - timedelta(days=10)}
    meeting_day = (date.today() - timedelta(days=2)).isoformat()
    ids = []
    for number in range(count):
        row = intake_row(
            id=f"PL-{number}",
            meeting_date=meeting_day,
            parent1_email=f"ouder{number}@example.nl",
            parent2_name="",
            parent2_email="",
        )
        composed = composer.compose(IntakeRecord.model_validate(row, context=back_then), "coach")
        ids.append(outbox.add(composed.draft, composed.data, by="coach").id)
    sign_off(workspace, "team")
    for message_id in ids:
        approve(outbox, message_id, "reviewer", review_policy(workspace, settings))
    return ids


def assert_no_personal_data(outbox: Outbox, message_id: str) -> None:
    stored = outbox.load(message_id)
    assert stored.purged and stored.to == [] and stored.child_name == ""
    assert stored.record == {} and stored.subject == ""
    with pytest.raises(MessageNotFound):
        outbox.read_bytes(message_id)
    assert not any(word in stored.model_dump_json() for word in PERSONAL)


@pytest.mark.usefixtures("outbox_engine")
def test_purge_blanks_sent_rejected_and_failed_messages_only(
    workspace: Workspace,
    serve: Any,  # noqa: F811
) -> None:
    outbox = open_outbox(workspace)
    sent, rejected, failed, waiting = past_meetings(workspace, 4)
    reject(outbox, rejected, "Anna", "wrong date for Zoë")
    handler = RecordingHandler(rcpt_replies={"ouder2@example.nl": "550 unknown ouder2@example.nl"})
    send_approved(outbox, serve(handler), limit=2)
    assert [outbox.load(i).state for i in (sent, failed)] == [State.SENT, State.FAILED]
    purged = purge_before(outbox, now_in_amsterdam() + LATER, "Anna")
    assert sorted(purged) == sorted([sent, rejected, failed])
    for message_id in purged:
        assert_no_personal_data(outbox, message_id)
    assert outbox.load(waiting).state == State.APPROVED and outbox.load(waiting).to
    journal = [entry.model_dump_json() for entry in outbox.journal()]
    assert sum("content purged" in line for line in journal) == 3
    assert not any(word in line for line in journal for word in PERSONAL)
    # A second purge finds nothing more to do.
    assert purge_before(outbox, now_in_amsterdam() + LATER, "Anna") == []


def test_purge_keeps_messages_finished_after_the_date(workspace: Workspace) -> None:
    outbox = Outbox(workspace.outbox_dir)
    (message_id,) = past_meetings(workspace, 1)
    reject(outbox, message_id, "Anna", "not now")
    assert purge_before(outbox, now_in_amsterdam() - timedelta(days=1), "Anna") == []
    assert outbox.read_bytes(message_id)


def test_purge_needs_a_name(workspace: Workspace) -> None:
    with pytest.raises(OutboxError):
        purge_before(Outbox(workspace.outbox_dir), now_in_amsterdam(), " ")


def test_after_a_purge_no_file_of_the_outbox_holds_the_content(
    workspace: Workspace,
    run_cli: Any,
    serve: Any,  # noqa: F811
) -> None:
    outbox = Outbox(workspace.outbox_dir)
    (message_id,) = past_meetings(workspace, 1)
    code, _, _ = run_cli("show", message_id, "--html")
    preview = workspace.outbox_dir / "previews" / f"{message_id}.html"
    assert code == 0 and preview.exists()
    send_approved(outbox, serve(RecordingHandler()))
    assert purge_before(outbox, now_in_amsterdam() + LATER, "Anna") == [message_id]
    assert not preview.exists()
    every_file = [path for path in workspace.outbox_dir.rglob("*") if path.is_file()]
    assert any(path.name == "outbox.sqlite3" for path in every_file)
    for path in every_file:
        content = path.read_bytes()
        assert not any(word.encode() in content for word in PERSONAL), path


def test_a_leftover_preview_of_a_purged_message_is_removed_by_the_next_purge(
    workspace: Workspace,
    serve: Any,  # noqa: F811
) -> None:
    outbox = Outbox(workspace.outbox_dir)
    (message_id,) = past_meetings(workspace, 1)
    send_approved(outbox, serve(RecordingHandler()))
    later = now_in_amsterdam() + LATER
    assert purge_before(outbox, later, "Anna") == [message_id]
    preview = workspace.outbox_dir / "previews" / f"{message_id}.html"
    preview.parent.mkdir(exist_ok=True)
    preview.write_text("Zoë", encoding="utf-8")
    assert purge_before(outbox, later, "Anna") == []
    assert not preview.exists()


def test_purge_never_empties_a_message_whose_meeting_is_to_come(
    workspace: Workspace,
    run_cli: Any,
    serve: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")
    outbox = open_outbox(workspace)
    (coming,) = approved_outbox(workspace, 1)
    send_approved(outbox, serve(RecordingHandler()))
    code, out, _ = run_cli("purge", "--before", "1-1-2999", "--yes", "--by", "Anna")
    assert code == 0
    assert "1 message finished before 01-01-2999 is kept: its meeting is still to come." in out
    assert "0 messages finished before 01-01-2999 purged" in out
    assert outbox.read_bytes(coming) and not outbox.load(coming).purged
    # So the parents can still be told the meeting is off.
    code, _, err = run_cli("cancel", coming, "--by", "Anna")
    assert code == 0, err


def test_purge_asks_first_and_a_dry_run_changes_nothing(
    workspace: Workspace,
    run_cli: Any,
    serve: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")
    outbox = open_outbox(workspace)
    first, second = past_meetings(workspace, 2)
    send_approved(outbox, serve(RecordingHandler()))
    code, out, err = run_cli("purge", "--before", "2999-01-01", "--by", "Anna")
    assert (code, out) == (2, "")
    assert err.strip() == (
        "purge needs --yes when not run in a terminal (see first what it does: --dry-run)"
    )
    code, out, _ = run_cli("purge", "--before", "01-01-2999", "--dry-run")
    assert code == 0
    assert out.splitlines()[-1] == "Would purge 2 messages."
    assert sorted(out.splitlines()[:-1]) == sorted(
        [f"would purge {first}", f"would purge {second}"]
    )
    assert not any(outbox.load(i).purged for i in (first, second))
    code, out, _ = run_cli("purge", "--before", "2999-01-01", "--yes", "--by", "Anna")
    assert code == 0 and "2 messages finished before 01-01-2999 purged" in out
    assert all(outbox.load(i).purged for i in (first, second))


def test_purge_dates_are_read_both_ways_round_and_a_wrong_one_is_one_line(
    run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_cli("purge", "--before", "gisteren", "--dry-run")
    assert code == 2
    assert err.strip() == (
        "--before: 'gisteren' is geen datum; schrijf hem als JJJJ-MM-DD of DD-MM-JJJJ"
    )
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")
    for day in ("2027-01-31", "31-01-2027", "2027-1-31"):
        code, out, _ = run_cli("purge", "--before", day, "--dry-run")
        assert code == 0 and "Would purge 0 messages." in out
