"""Which provider replies are weather (slow down), which refuse the whole mailbox, and which are
about one message only."""

from __future__ import annotations

import pytest

from mailer.sending.replies import is_account_refusal, is_quota, is_throttle


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (421, "4.7.0 Too many connections, slow down"),
        (432, "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded"),
        (451, "4.7.500 Server busy. Please try again later"),
        (452, "4.5.3 Too many recipients"),
        (454, "4.7.0 Temporary authentication failure"),
    ],
)
def test_slow_down_replies_are_throttles(code: int, message: str) -> None:
    assert is_throttle(code, message)
    assert not is_account_refusal(code, message)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"),
        (550, "5.4.5 Daily user sending quota exceeded"),
        (550, "5.7.60 SMTP; Client does not have permissions to send as this sender"),
        (554, "5.7.1 Relay access denied"),
        (530, "5.7.57 Client was not authenticated to send anonymous mail during MAIL FROM"),
        (550, "5.7.708 Service unavailable. Access denied, traffic not accepted from this IP"),
    ],
)
def test_refusals_of_the_mailbox_stop_the_run(code: int, message: str) -> None:
    assert is_account_refusal(code, message)
    assert not is_throttle(code, message)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (550, "5.1.1 User unknown"),
        (554, "5.6.0 Message refused"),
        (550, "5.7.1 Message rejected as spam by Content Filtering"),
        (451, "4.3.0 Try again later"),  # a temporary refusal of this message: retried later
    ],
)
def test_refusals_of_one_message_are_neither(code: int, message: str) -> None:
    assert not is_throttle(code, message)
    assert not is_account_refusal(code, message)


def test_only_a_quota_ends_by_itself() -> None:
    assert is_quota("554 5.2.0 SubmissionQuotaExceeded")
    assert not is_quota("550 5.7.60 Client does not have permissions to send as this sender")
