"""The `Date:` of a message: the moment it is handed to the mail server.

The outbox stores, and a person approves, the message without `Date:` (a letter queued on Monday
and sent on Thursday must say Thursday). Sending puts this one header line in front of the
approved bytes right before SMTP DATA; the approval's hash is checked on the stored bytes, so it
still covers every word, address and attachment. Kept apart from `mailer.letters.message` so
that sending does not load the letter's libraries.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime

from mailer.errors import UnsafeMessage

__all__ = ["dated"]

_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")
_DATE_FIELD = re.compile(rb"^date:", re.IGNORECASE | re.MULTILINE)


def dated(data: bytes, moment: datetime) -> bytes:
    """The stored bytes with `Date:` in front, as they are handed to the server at `moment`
    (an aware time: a naive one would be written as the unknown zone -0000)."""
    if moment.tzinfo is None:
        raise UnsafeMessage("the Date header needs a time zone")
    end = _END_OF_HEADERS.search(data)
    if _DATE_FIELD.search(data[: end.start()] if end else data):
        # Queued (and approved) before Date was set at sending: those bytes carry their own.
        return data
    return f"Date: {format_datetime(moment)}\r\n".encode("ascii") + data
