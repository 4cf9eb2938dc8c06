"""Sending approved messages to a real aiosmtpd server: every outcome the server can cause."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from mailer.clock import now_in_amsterdam
from mailer.config import Settings, load_settings
from mailer.errors import ConfigError
from mailer.outbox.store import Outbox, State
from mailer.sending.claims import claimer_alive, new_claim
from mailer.sending.records import resolve_unknown, retry_failed
from mailer.sending.run import NOT_SENT, SendEvent, plan_send, send_approved
from mailer.workspace import Workspace
from tests.conftest import open_outbox
from tests.provider_servers import FakeClock
from tests.smtp_servers import (
    RecordingHandler,
    approved_outbox,
    make_certificates,
    smtp_env,
    smtp_server,
)
from tests.tampering import change_metadata, overwrite_stored_bytes

TWO_PARENTS = [["sanne@example.nl", "mark@example.nl"]]


# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def outbox(workspace: Workspace, outbox_engine: str) -> Outbox:
    """The workspace's outbox, on SQLite and on PostgreSQL (see `outbox_engine`)."""
    return open_outbox(workspace)


@pytest.fixture
def serve(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """serve(handler, **env) starts a server and returns the workspace settings pointing at it."""
    servers: list[Any] = []

    def start(handler: RecordingHandler, **extra: str) -> Settings:
        context = smtp_server(handler)
        controller = context.__enter__()
        servers.append(context)
        for name, value in smtp_env(controller, **extra).items():
            monkeypatch.setenv(name, value)
        return load_settings(workspace.root)

    yield start
    for context in servers:
        context.__exit__(None, None, None)


def test_sends_each_approved_message_once_to_the_record_recipients(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    ids = approved_outbox(workspace, 3, emails=[*TWO_PARENTS, ["a@example.nl"], ["b@example.nl"]])
    handler = RecordingHandler()
    report = send_approved(outbox, serve(handler))
    assert sorted(report.ids(State.SENT)) == sorted(ids)
    assert len(handler.arrivals) == 3
    for arrival in handler.arrivals:
        message_id = message_from_bytes(arrival.content)["Message-ID"]
        stored = next(outbox.load(i) for i in ids if outbox.load(i).message_id == message_id)
        assert arrival.rcpt_tos == stored.to
        assert stored.state == State.SENT and stored.delivery is not None
        assert stored.delivery.reply.startswith("250")
        assert stored.claim is None
    # The bytes on the wire are the approved bytes, with only the sending time in front.
    first = outbox.load(ids[0])
    sent = next(a for a in handler.arrivals if first.message_id.encode() in a.content)
    date_line, _, rest = sent.content.partition(b"\r\n")
    assert rest == outbox.read_bytes(ids[0])
    assert b"\r\nDate:" not in rest and not rest.startswith(b"Date:")
    assert date_line.startswith(b"Date: ")
    sent_at = parsedate_to_datetime(date_line.removeprefix(b"Date: ").decode())
    assert first.approval is not None and sent_at >= first.approval.at.replace(microsecond=0)
    # Each message's journal tells the whole way: queued, approved, claimed, sent.
    assert [entry.to_state for entry in outbox.journal(ids[0])] == [
        "pending",
        "approved",
        "sending",
        "sent",
    ]


def test_a_second_run_sends_nothing_again(workspace: Workspace, outbox: Outbox, serve: Any) -> None:
    approved_outbox(workspace, 2)
    handler = RecordingHandler()
    settings = serve(handler)
    send_approved(outbox, settings)
    again = send_approved(outbox, settings)
    assert len(handler.arrivals) == 2
    assert again.planned == [] and again.summary().startswith("0 sent")


def test_recipients_edited_after_approval_are_refused_not_sent(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    moved, duplicated, kept, shouted = approved_outbox(workspace, 4)
    handler = RecordingHandler()
    settings = serve(handler)
    # The approval covers the .eml bytes; the envelope comes from the .json. An address changed
    # there, or the same address counted twice, was never approved.
    change_metadata(outbox, moved, to=["someone-else@example.nl"])
    change_metadata(outbox, duplicated, to=["ouder1@example.nl"] * 2)
    # Only the case differs: the same mailbox, so it goes.
    change_metadata(outbox, shouted, to=["OUDER3@Example.NL"])
    report = send_approved(outbox, settings)
    reason = "recipients differ from the approved letter's To (not sent)"
    assert report.skipped == {reason: 2}
    assert sorted(report.ids(State.SENT)) == sorted([kept, shouted])
    assert sorted(a.rcpt_tos[0].lower() for a in handler.arrivals) == [
        "ouder2@example.nl",
        "ouder3@example.nl",
    ]
    for message_id in (moved, duplicated):
        stored = outbox.load(message_id)
        assert stored.state == State.APPROVED and stored.attempts == []


def test_a_message_changed_after_approval_is_skipped(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    changed, kept = approved_outbox(workspace, 2)
    overwrite_stored_bytes(outbox, changed, outbox.read_bytes(changed) + b"\r\nextra\r\n")
    handler = RecordingHandler()
    report = send_approved(outbox, serve(handler))
    assert report.ids(State.SENT) == [kept]
    assert report.skipped == {"changed after approval (approve again)": 1}
    assert outbox.load(changed).state == State.APPROVED
    assert len(handler.arrivals) == 1


def test_partial_refusal_is_sent_with_the_refused_address_recorded(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1, emails=TWO_PARENTS)
    handler = RecordingHandler(rcpt_replies={"mark@example.nl": "550 5.1.1 User unknown"})
    events: list[SendEvent] = []
    report = send_approved(outbox, serve(handler), progress=events.append)
    stored = outbox.load(message_id)
    assert stored.state == State.SENT
    assert stored.delivery is not None
    assert stored.delivery.refused == {"mark@example.nl": "550 5.1.1 User unknown"}
    assert report.partial == {message_id: ["mark@example.nl"]}
    assert "mark@example.nl" in events[0].detail
    assert handler.arrivals[0].rcpt_tos == ["sanne@example.nl"]
    # The journal keeps no addresses.
    journal = " ".join(entry.model_dump_json() for entry in outbox.journal())
    assert "mark@example.nl" not in journal and "sanne@example.nl" not in journal


def test_every_recipient_refused_permanently_fails(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    handler = RecordingHandler(rcpt_replies={"ouder0@example.nl": "550 5.1.1 User unknown"})
    report = send_approved(outbox, serve(handler))
    stored = outbox.load(message_id)
    assert stored.state == State.FAILED
    assert stored.last_error is not None and "550 5.1.1" in stored.last_error
    assert report.ids(State.FAILED) == [message_id]
    assert handler.arrivals == []


def test_temporary_refusal_stays_approved_with_backoff_then_fails(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    handler = RecordingHandler(rcpt_replies={"ouder0@example.nl": "451 4.3.0 Try again later"})
    settings = serve(handler, MAILER_RETRY_MAX_ATTEMPTS="3", MAILER_RETRY_BACKOFF_MINUTES="10")
    before = now_in_amsterdam()
    first = send_approved(outbox, settings)
    stored = outbox.load(message_id)
    assert first.ids("deferred") == [message_id]
    assert stored.state == State.APPROVED and len(stored.attempts) == 1
    assert stored.next_attempt_at is not None
    assert stored.next_attempt_at >= before + timedelta(minutes=10)
    # Not due yet: a second run skips it and says why.
    waiting = send_approved(outbox, settings)
    assert waiting.skipped == {"waiting to retry after a temporary refusal": 1}
    # Make it due twice more: the third temporary refusal is the last.
    for _ in range(2):
        change_metadata(outbox, message_id, next_attempt_at=None)
        send_approved(outbox, settings)
    stored = outbox.load(message_id)
    assert stored.state == State.FAILED and len(stored.attempts) == 3
    assert stored.last_error is not None and "gave up after 3" in stored.last_error
    assert handler.arrivals == []


def test_refusal_at_data_fails_with_the_reply(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    handler = RecordingHandler(data_reply="554 5.6.0 Message refused")
    send_approved(outbox, serve(handler))
    stored = outbox.load(message_id)
    assert stored.state == State.FAILED
    assert stored.attempts[-1].reply == "554 5.6.0 Message refused"


def test_connection_dropped_after_data_is_unknown_and_never_resent(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    first, second = approved_outbox(workspace, 2)
    handler = RecordingHandler(drop_after_data=True)
    settings = serve(handler)
    report = send_approved(outbox, settings)
    assert sorted(report.ids(State.UNKNOWN)) == sorted([first, second])
    assert len(handler.arrivals) == 2  # both did arrive: the client could not know
    assert send_approved(outbox, settings).planned == []
    assert len(handler.arrivals) == 2
    stored = outbox.load(first)
    assert stored.last_error is not None and "mailer resolve" in stored.last_error


def test_a_server_too_slow_to_answer_leaves_the_message_unknown(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    handler = RecordingHandler(data_delay=1.5)
    report = send_approved(outbox, serve(handler, MAILER_SMTP_TIMEOUT="0.3"))
    assert report.ids(State.UNKNOWN) == [message_id]
    assert outbox.load(message_id).state == State.UNKNOWN


def test_resolve_resend_sends_the_same_bytes_with_the_same_message_id(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    dropping = RecordingHandler(drop_after_data=True)
    send_approved(outbox, serve(dropping))
    resolve_unknown(outbox, message_id, sent=False, by="Anna")
    good = RecordingHandler()
    send_approved(outbox, serve(good))
    assert outbox.load(message_id).state == State.SENT
    assert good.arrivals[0].content == dropping.arrivals[0].content


def test_resolve_sent_records_a_persons_decision(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    send_approved(outbox, serve(RecordingHandler(drop_after_data=True)))
    stored = resolve_unknown(outbox, message_id, sent=True, by="Anna")
    assert stored.state == State.SENT
    assert stored.history[-1].by == "Anna"


def test_server_down_releases_messages_without_counting_an_attempt(
    workspace: Workspace, outbox: Outbox, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = approved_outbox(workspace, 3)
    settings = serve(RecordingHandler())
    from mailer.sending.local_server import free_port

    down = settings.model_copy(update={"smtp_port": free_port()})
    report = send_approved(outbox, down, connections=2)
    assert report.stopped is not None and "cannot connect" in report.stopped
    for message_id in ids:
        stored = outbox.load(message_id)
        assert stored.state == State.APPROVED and stored.attempts == []
    assert send_approved(outbox, settings).ids(State.SENT)


def test_four_connections_send_each_message_exactly_once(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    ids = approved_outbox(workspace, 40)
    handler = RecordingHandler()
    report = send_approved(outbox, serve(handler), connections=4)
    assert sorted(report.ids(State.SENT)) == sorted(ids)
    message_ids = [message_from_bytes(a.content)["Message-ID"] for a in handler.arrivals]
    assert len(message_ids) == len(set(message_ids)) == 40


def test_limit_sends_only_that_many(workspace: Workspace, outbox: Outbox, serve: Any) -> None:
    approved_outbox(workspace, 3)
    handler = RecordingHandler()
    report = send_approved(outbox, serve(handler), limit=2)
    assert len(handler.arrivals) == 2
    assert report.skipped == {"beyond --limit": 1}


def test_the_rate_limit_spaces_messages_over_all_connections(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    approved_outbox(workspace, 4)
    clock = FakeClock()
    settings = serve(RecordingHandler(), MAILER_RATE_LIMIT="30")
    send_approved(outbox, settings, connections=2, clock=clock)
    # 30 a minute: four messages need three waits that add up to six seconds of spacing.
    assert sum(clock.sleeps) == pytest.approx(6.0)
    assert all(wait > 0 for wait in clock.sleeps)


def test_a_dead_senders_claim_becomes_unknown(workspace: Workspace, outbox: Outbox) -> None:
    maybe_arrived, waiting = approved_outbox(workspace, 2)
    dead = new_claim().model_copy(update={"pid": 2**22 + 12345})
    outbox.transition(maybe_arrived, State.SENDING, by="test", change=lambda _: {"claim": dead})
    plan = plan_send(outbox, recover_as="next sender")
    assert plan.recovered == [maybe_arrived]
    assert plan.planned == [waiting]
    assert outbox.load(maybe_arrived).state == State.UNKNOWN
    assert outbox.journal(maybe_arrived)[-1].to_state == "unknown"


def test_a_dry_run_plan_recovers_nothing(workspace: Workspace, outbox: Outbox) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    dead = new_claim().model_copy(update={"pid": 2**22 + 12345})
    outbox.transition(message_id, State.SENDING, by="test", change=lambda _: {"claim": dead})
    assert plan_send(outbox).recovered == []
    assert outbox.load(message_id).state == State.SENDING


def test_claim_liveness() -> None:
    mine = new_claim()
    assert claimer_alive(mine)
    # Our PID, but a start time before this process: the PID was reused, the claimer is gone.
    assert not claimer_alive(mine.model_copy(update={"started": mine.started - 3600}))
    assert not claimer_alive(mine.model_copy(update={"pid": 2**22 + 12345}))
    assert not claimer_alive(None)
    # Another computer's claim cannot be checked from here: it holds until its lease runs out.
    elsewhere = mine.model_copy(update={"host": f"not-{socket.gethostname()}", "pid": 1})
    assert claimer_alive(elsewhere)
    expired = now_in_amsterdam() - timedelta(seconds=1)
    assert not claimer_alive(elsewhere.model_copy(update={"lease_until": expired}))


def test_journal_replies_are_redacted_but_metadata_keeps_them(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    refusal = "550 5.1.1 <ouder0@example.nl>: Recipient address rejected"
    send_approved(outbox, serve(RecordingHandler(rcpt_replies={"ouder0@example.nl": refusal})))
    stored = outbox.load(message_id)
    assert stored.last_error is not None and "ouder0@example.nl" in stored.last_error
    last = outbox.journal(message_id)[-1]
    assert "ouder0@example.nl" not in last.reply and "<address>" in last.reply


def test_a_refused_sender_stops_the_run_and_gives_every_message_back(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    ids = approved_outbox(workspace, 4)
    handler = RecordingHandler(mail_reply="554 5.7.1 Relay access denied")
    report = send_approved(outbox, serve(handler), connections=2)
    # A 5xx at MAIL FROM is about the sender, so about every message: none is failed for good.
    assert report.stopped is not None and "MAILER_SENDER" in report.stopped
    assert "554 5.7.1 Relay access denied" in report.stopped
    assert report.ids(State.FAILED) == []
    assert report.skipped == {NOT_SENT: 4}
    assert report.summary().startswith("0 sent, 0 deferred, 0 failed, 0 unknown, 4 skipped")
    for message_id in ids:
        stored = outbox.load(message_id)
        assert stored.state == State.APPROVED and stored.attempts == []
    assert handler.mail_commands <= 2  # one per connection at most, then the run stopped
    handler.mail_reply = None
    assert sorted(send_approved(outbox, serve(handler)).ids(State.SENT)) == sorted(ids)


def test_a_non_ascii_sender_without_smtputf8_stops_the_run(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    ids = approved_outbox(workspace, 2)
    settings = serve(RecordingHandler()).model_copy(
        update={"sender": "Opvang <intake@opvång.example>"}
    )
    # An IDN domain is not converted to punycode, so the sender needs SMTPUTF8, which aiosmtpd
    # offers only when enabled (the test server does not).
    report = send_approved(outbox, settings)
    assert report.stopped is not None and "SMTPUTF8" in report.stopped
    assert "MAILER_SENDER" in report.stopped
    assert report.skipped == {NOT_SENT: 2}
    assert {outbox.load(message_id).state for message_id in ids} == {State.APPROVED}


def test_a_server_without_starttls_counts_every_unsent_message(
    workspace: Workspace, outbox: Outbox, serve: Any, tmp_path: Any
) -> None:
    ids = approved_outbox(workspace, 4)
    certificates = make_certificates(tmp_path)
    settings = serve(
        RecordingHandler(),
        MAILER_SMTP_SECURITY="starttls",
        MAILER_SMTP_CA_FILE=str(certificates.ca_file),
    )
    report = send_approved(outbox, settings, connections=2)
    assert report.stopped is not None
    assert "does not offer STARTTLS" in report.stopped
    assert "MAILER_SMTP_SECURITY" in report.stopped and "MAILER_SMTP_HOST" not in report.stopped
    assert report.summary() == (
        "0 sent, 0 deferred, 0 failed, 0 unknown, 4 skipped (4 not sent because the run stopped)."
    )
    assert {outbox.load(message_id).state for message_id in ids} == {State.APPROVED}


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("smtp_host", "a..example", "not a valid host name; check MAILER_SMTP_HOST"),
        ("smtp_ca_file", "missing-ca.pem", "check MAILER_SMTP_CA_FILE"),
    ],
)
def test_a_connection_that_cannot_even_start_leaves_nothing_claimed(
    workspace: Workspace, outbox: Outbox, serve: Any, setting: str, value: str, expected: str
) -> None:
    ids = approved_outbox(workspace, 3)
    settings = serve(RecordingHandler()).model_copy(
        update={"smtp_security": "starttls", setting: value}
    )
    if setting == "smtp_ca_file":
        # Found before anything is planned or claimed.
        with pytest.raises(ConfigError, match=expected):
            send_approved(outbox, settings)
    else:
        report = send_approved(outbox, settings, connections=2)
        assert report.stopped is not None and expected in report.stopped
        assert report.skipped == {NOT_SENT: 3}
    # Nothing was handed over, so nothing may end `unknown` in the next run.
    assert {outbox.load(message_id).state for message_id in ids} == {State.APPROVED}
    assert plan_send(outbox, recover_as="next").recovered == []


def test_a_retried_message_gets_its_full_number_of_attempts_again(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    handler = RecordingHandler(rcpt_replies={"ouder0@example.nl": "451 4.3.0 Try again later"})
    settings = serve(handler, MAILER_RETRY_MAX_ATTEMPTS="2")
    send_approved(outbox, settings)
    change_metadata(outbox, message_id, next_attempt_at=None)
    send_approved(outbox, settings)
    assert outbox.load(message_id).state == State.FAILED
    assert retry_failed(outbox, message_id, by="Anna").state == State.APPROVED
    report = send_approved(outbox, settings)
    # Counted since the retry: a first temporary refusal again, not "gave up after 3".
    assert report.ids("deferred") == [message_id]
    assert outbox.load(message_id).state == State.APPROVED


def test_a_plan_that_does_not_read_the_letters_still_sends_no_changed_one(
    workspace: Workspace, outbox: Outbox, serve: Any
) -> None:
    changed, kept = approved_outbox(workspace, 2)
    overwrite_stored_bytes(outbox, changed, outbox.read_bytes(changed) + b"\r\nextra\r\n")
    plan = plan_send(outbox, recover_as="sender", read_letters=False)
    assert sorted(plan.planned) == sorted([changed, kept])
    handler = RecordingHandler()
    report = send_approved(outbox, serve(handler), plan=plan)
    assert report.ids(State.SENT) == [kept]
    assert report.skipped == {"changed after approval (approve again)": 1}
    assert outbox.load(changed).state == State.APPROVED
    assert len(handler.arrivals) == 1
