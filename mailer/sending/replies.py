"""What a provider's reply is about: slow down (throttling), the mailbox as a whole (a quota, a
refused sender or login), or just the one message.

Throttling is weather: the run pauses and tries again. A refusal of the mailbox stops the run and
leaves the letters approved. Only a refusal of the message itself fails a message.
"""

from __future__ import annotations

import re

from mailer.i18n import _

__all__ = ["account_refusal_line", "is_account_refusal", "is_quota", "is_throttle"]

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# (reply code, enhanced status prefix) that providers use to say "too fast, too many": Exchange
# Online's `432 4.3.2` for one connection too many, `451 4.7.x`/`454 4.7.0` for a busy or
# throttled submission, `452 4.5.3` for too many recipients for now. 421 always means it.
_THROTTLES = ((432, "4.3.2"), (451, "4.7."), (452, "4.5.3"), (454, "4.7.0"))
# A refusal of the mailbox, whatever the message: Exchange's `554 5.2.0 ...
# SubmissionQuotaExceeded`, Google's `550 5.4.5 Daily user sending quota exceeded`.
_QUOTA_WORDS = ("quota", "5.4.5")
# Security refusals (5.7.x) that are about the sender or the login, not the message's content;
# Exchange Online's 5.7.705, 5.7.708 and 5.7.750 block the whole tenant or its address.
_SENDER_WORDS = (
    "relay",
    "send as",
    "sendas",
    "authenticat",
    "permission",
    "sender",
    "5.7.30",
    "5.7.705",
    "5.7.708",
    "5.7.750",
)


def _status(message: str) -> str:
    found = _STATUS.search(message)
    return ".".join(found.groups()) if found else ""


def is_throttle(code: int, message: str) -> bool:
    """Whether the server asks to slow down (try again soon, with fewer connections)."""
    if code == 421:
        return True
    status = _status(message)
    return any(code == want and status.startswith(prefix) for want, prefix in _THROTTLES)


def is_account_refusal(code: int, message: str) -> bool:
    """Whether a permanent refusal holds for every message from this mailbox."""
    if code < 500:
        return False
    text = message.lower()
    if any(word in text for word in _QUOTA_WORDS):
        return True
    return _status(message).startswith("5.7.") and any(word in text for word in _SENDER_WORDS)


def is_quota(reply: str) -> bool:
    """Whether a refusal of the mailbox is its daily quota (which ends by itself)."""
    return any(word in reply.lower() for word in _QUOTA_WORDS)


def account_refusal_line(reply: str) -> str:
    """What the provider said about the mailbox, and what to do."""
    if is_quota(reply):
        return _("the provider's daily sending quota for this mailbox is used up ({reply})").format(
            reply=reply
        )
    return _(
        "the provider refuses to send from this mailbox ({reply}); check MAILER_SENDER and the "
        "login (MAILER_SMTP_USERNAME), or ask your administrator whether this mailbox may send "
        "by SMTP"
    ).format(reply=reply)
