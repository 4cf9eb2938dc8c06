"""Sending to servers that answer as mail providers do: throttling is weather (pause, slow down,
go on), a refusal of the mailbox stops the run with every unsent letter still approved, and a
refusal of one message fails only that message. The run's clock is injected: nobody waits."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mailer.config import Settings, load_settings
from mailer.outbox.store import Outbox, State
from mailer.sending.records import retry_failed
from mailer.sending.run import NOT_SENT, THROTTLES_IN_A_ROW, SendInterrupted, send_approved
from mailer.workspace import Workspace
from tests.conftest import open_outbox
from tests.provider_servers import (
    BUSY,
    LOGIN_REFUSED,
    FakeClock,
    ProviderHandler,
    provider_server,
    refuse_every_login,
)
from tests.smtp_servers import PASSWORD, USER, approved_outbox, smtp_env

# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def outbox(workspace: Workspace, outbox_engine: str) -> Outbox:
    return open_outbox(workspace)


@pytest.fixture
def provider(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """provider(handler, **env) starts a provider-like server; the workspace's settings."""
    servers: list[Any] = []

    def start(
        handler: ProviderHandler, options: dict[str, Any] | None = None, **env: str
    ) -> Settings:
        context = provider_server(handler, **(options or {}))
        servers.append(context)
        controller = context.__enter__()
        for name, value in smtp_env(controller, MAILER_RATE_LIMIT="30", **env).items():
            monkeypatch.setenv(name, value)
        return load_settings(workspace.root)

    yield start
    for context in servers:
        context.__exit__(None, None, None)


def states(outbox: Outbox, ids: list[str]) -> dict[State, int]:
    found: dict[State, int] = {}
    for message_id in ids:
        state = outbox.load(message_id).state
        found[state] = found.get(state, 0) + 1
    return found


def test_a_throttle_pauses_with_growing_backoff_then_every_letter_goes(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    ids = approved_outbox(workspace, 5)
    handler = ProviderHandler(throttle_after=2, throttle_times=3)
    clock = FakeClock()
    report = send_approved(outbox, provider(handler), clock=clock)
    assert sorted(report.ids(State.SENT)) == sorted(ids)
    assert report.throttled == 3 and report.stopped is None and report.all_well
    pauses = [wait for wait in clock.sleeps if wait >= 30]
    assert pauses == [30.0, 60.0, 120.0]
    # No letter counts an attempt for the server's weather.
    assert all(len(outbox.load(message_id).attempts) == 1 for message_id in ids)


def test_a_server_that_keeps_throttling_stops_the_run_with_the_rest_approved(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    ids = approved_outbox(workspace, 6)
    handler = ProviderHandler(throttle_after=2)
    clock = FakeClock()
    report = send_approved(outbox, provider(handler), clock=clock)
    assert len(report.ids(State.SENT)) == 2
    assert report.throttled == THROTTLES_IN_A_ROW + 1
    assert report.stopped is not None and "kept asking to slow down" in report.stopped
    assert report.resume_at is not None
    assert report.skipped[NOT_SENT] == 4
    assert states(outbox, ids) == {State.SENT: 2, State.APPROVED: 4}
    unsent = [outbox.load(i) for i in ids if outbox.load(i).state == State.APPROVED]
    assert all(stored.attempts == [] and stored.next_attempt_at is None for stored in unsent)


def test_busy_for_a_while_is_waited_out(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    ids = approved_outbox(workspace, 3)
    handler = ProviderHandler(throttle_after=0, throttle_times=2, throttle=BUSY)
    report = send_approved(outbox, provider(handler), clock=FakeClock())
    assert sorted(report.ids(State.SENT)) == sorted(ids) and report.throttled == 2


def test_a_fourth_connection_refused_makes_the_run_use_fewer(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    ids = approved_outbox(workspace, 12)
    handler = ProviderHandler(max_open=3)
    report = send_approved(outbox, provider(handler), connections=4, clock=FakeClock())
    assert sorted(report.ids(State.SENT)) == sorted(ids)
    assert handler.refused_connections >= 1 and report.throttled >= 1
    assert report.ids(State.FAILED) == [] and report.stopped is None


def test_a_daily_quota_reply_stops_the_run_and_fails_no_letter(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    ids = approved_outbox(workspace, 5)
    handler = ProviderHandler(quota_after=2)
    clock = FakeClock()
    report = send_approved(outbox, provider(handler), clock=clock)
    assert len(report.ids(State.SENT)) == 2 and report.ids(State.FAILED) == []
    assert report.stopped is not None and "quota" in report.stopped
    assert "554 5.2.0" in report.stopped
    assert report.resume_at is not None  # the quota ends within a day
    assert states(outbox, ids) == {State.SENT: 2, State.APPROVED: 3}
    given_back = [outbox.load(i) for i in ids if outbox.load(i).state == State.APPROVED]
    assert all(stored.attempts == [] and stored.claim is None for stored in given_back)
    # The next day the same letters go, without anyone approving them again.
    handler.quota_after = None
    clock.time += 24 * 60 * 60
    again = send_approved(outbox, load_settings(workspace.root), clock=clock)
    assert len(again.ids(State.SENT)) == 3


def test_a_refused_login_stops_before_any_letter_is_touched(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    ids = approved_outbox(workspace, 2)
    options = {"authenticator": refuse_every_login, "auth_require_tls": False}
    settings = provider(
        ProviderHandler(), options, MAILER_SMTP_USERNAME=USER, MAILER_SMTP_PASSWORD=PASSWORD
    )
    report = send_approved(outbox, settings, clock=FakeClock())
    assert report.stopped is not None and LOGIN_REFUSED in report.stopped
    assert states(outbox, ids) == {State.APPROVED: 2}


def test_one_bad_recipient_fails_only_that_letter(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    ids = approved_outbox(workspace, 3)
    handler = ProviderHandler(rcpt_replies={"ouder1@example.nl": "550 5.1.1 User unknown"})
    report = send_approved(outbox, provider(handler), clock=FakeClock())
    assert report.ids(State.FAILED) == [ids[1]] and report.stopped is None
    assert sorted(report.ids(State.SENT)) == sorted([ids[0], ids[2]])
    assert "550 5.1.1" in (outbox.load(ids[1]).last_error or "")


def test_the_daily_cap_stops_the_run_and_says_when_to_go_on(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    ids = approved_outbox(workspace, 4)
    settings = provider(ProviderHandler(), MAILER_DAILY_RECIPIENT_LIMIT="3")
    report = send_approved(outbox, settings, clock=FakeClock())
    assert len(report.ids(State.SENT)) == 3
    assert report.stopped is not None and "daily limit of 3 recipients" in report.stopped
    assert report.resume_at is not None and report.skipped[NOT_SENT] == 1
    assert states(outbox, ids) == {State.SENT: 3, State.APPROVED: 1}


def test_a_connection_cut_before_a_letter_was_handed_over_is_tried_again_in_the_run(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    ids = approved_outbox(workspace, 4)
    handler = ProviderHandler(drop_at_mail=3)
    report = send_approved(outbox, provider(handler), clock=FakeClock())
    assert sorted(report.ids(State.SENT)) == sorted(ids)
    assert report.throttled == 1 and report.ids(State.UNKNOWN) == []
    assert all(len(outbox.load(message_id).attempts) == 1 for message_id in ids)


def test_a_retried_letter_is_sent_by_the_next_run(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    to = outbox.load(message_id).to
    handler = ProviderHandler(rcpt_replies={address: "550 5.1.1 User unknown" for address in to})
    settings = provider(handler)
    first = send_approved(outbox, settings, clock=FakeClock(time.time()))
    assert first.ids(State.FAILED) == [message_id]
    # The address was put right at the server; a person retries a minute later: the start the
    # first run took for this letter must not hold it for the rest of its lease.
    handler.rcpt_replies.clear()
    retry_failed(outbox, message_id, by="Bob")
    assert outbox.load(message_id).state == State.APPROVED
    second = send_approved(outbox, settings, clock=FakeClock(time.time() + 60))
    assert second.ids(State.SENT) == [message_id]


class StopAtMail(ProviderHandler):
    """At MAIL FROM, stops the run (SIGUSR1 to this process, whose run has its handler in place
    by then) and answers only a few seconds later: the run is stopped before DATA."""

    async def handle_MAIL(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.sleep(3)
        reply: str = await super().handle_MAIL(server, session, envelope, address, options)
        return reply


def test_a_run_stopped_before_the_handover_leaves_no_hold_on_the_letter(
    workspace: Workspace, outbox: Outbox, provider: Any
) -> None:
    (message_id,) = approved_outbox(workspace, 1)
    settings = provider(StopAtMail())
    with pytest.raises(SendInterrupted):
        send_approved(
            outbox, settings, clock=FakeClock(time.time()), stop_signals=(signal.SIGUSR1,)
        )
    assert outbox.load(message_id).state == State.APPROVED  # nothing was handed over
    second = send_approved(outbox, provider(ProviderHandler()), clock=FakeClock(time.time() + 60))
    assert second.ids(State.SENT) == [message_id]
