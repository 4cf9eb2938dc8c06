"""Building the e-mail from a rendered letter, and proving it is exactly what was meant.

The stdlib `email` package writes the MIME structure and picks the transfer encodings. Because this
Python writes an encoded CR/LF in a header out as a real header line (CVE-2024-6923), every built
message is parsed back and refused unless its headers are exactly the expected ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime, make_msgid

from mailer.errors import UnsafeMessage
from mailer.letters.rendering import RenderedLetter
from mailer.text_safety import check_header_safe

__all__ = [
    "CalendarPart",
    "LetterParts",
    "MessageHeaders",
    "build_message",
    "letter_parts",
    "new_message_id",
    "verify_message",
]

MAX_LINE_OCTETS = 998  # RFC 5322 section 2.1.1


@dataclass(frozen=True)
class CalendarPart:
    """An iCalendar object to send along: shown inline by mail clients and attached as `.ics`."""

    ics: bytes
    method: str  # REQUEST or CANCEL: the Content-Type parameter must equal the METHOD property
    filename: str = "uitnodiging.ics"


@dataclass(frozen=True)
class MessageHeaders:
    """The header values of one message; nothing else reaches a header."""

    sender: Address
    to: Sequence[Address]
    subject: str
    date: datetime
    message_id: str
    reply_to: Address | None = None


def new_message_id(domain: str) -> str:
    """A Message-ID on the sender's domain (without `domain=` the stdlib uses the host name)."""
    return make_msgid(domain=domain)


def _expected_headers(headers: MessageHeaders) -> dict[str, str]:
    expected = {
        "From": str(headers.sender),
        "To": ", ".join(str(address) for address in headers.to),
        "Subject": headers.subject,
        "Date": format_datetime(headers.date),
        "Message-ID": headers.message_id,
    }
    if headers.reply_to is not None:
        expected["Reply-To"] = str(headers.reply_to)
    return expected


def _check_header_values(headers: MessageHeaders) -> None:
    if headers.date.tzinfo is None:
        raise UnsafeMessage("the Date header needs a time zone")
    for value in (headers.subject, headers.message_id):
        try:
            check_header_safe(value)
        except ValueError as error:
            raise UnsafeMessage(f"header value {value!r} {error}") from None
    for address in (headers.sender, headers.reply_to, *headers.to):
        if address is None:
            continue
        try:
            check_header_safe(address.display_name)
            check_header_safe(address.addr_spec)
        except ValueError as error:
            raise UnsafeMessage(f"address {address.addr_spec!r} {error}") from None


def _expected_addresses(headers: MessageHeaders) -> dict[str, list[str]]:
    expected = {
        "From": [headers.sender.addr_spec],
        "To": [address.addr_spec for address in headers.to],
    }
    if headers.reply_to is not None:
        expected["Reply-To"] = [headers.reply_to.addr_spec]
    return expected


def verify_message(data: bytes, headers: MessageHeaders) -> None:
    """Raise UnsafeMessage unless `data` parses back to exactly the expected top-level headers."""
    parsed = message_from_bytes(data, policy=policy.default)
    expected = _expected_headers(headers)
    structural = ["MIME-Version", "Content-Type"]
    if sorted(parsed.keys()) != sorted([*expected, *structural]):
        unexpected = sorted(set(parsed.keys()) - set(expected) - set(structural))
        raise UnsafeMessage(
            f"the message has unexpected headers ({', '.join(unexpected) or 'duplicates'}); "
            "a field holds text that mail programs read as a header"
        )
    for name, addresses in _expected_addresses(headers).items():
        found = [address.addr_spec for address in parsed[name].addresses]
        if found != addresses:
            raise UnsafeMessage(f"the {name} header does not hold exactly the expected addresses")
    for name in ("Subject", "Date", "Message-ID"):
        # Folding may move a value to a continuation line; unfolded words must be identical.
        if str(parsed[name]).split() != expected[name].split():
            raise UnsafeMessage(f"the {name} header changed when the message was written out")
    for line in data.split(b"\r\n"):
        if len(line) > MAX_LINE_OCTETS:
            raise UnsafeMessage(f"a line is longer than {MAX_LINE_OCTETS} octets")


def build_message(
    headers: MessageHeaders, letter: RenderedLetter, calendar: CalendarPart | None = None
) -> bytes:
    """The finished message as the exact bytes that will be stored, reviewed and sent."""
    _check_header_values(headers)
    message = EmailMessage(policy=policy.SMTP)
    for name, value in _expected_headers(headers).items():
        message[name] = value
    # multipart/alternative: plain text first, HTML after it (the last part is the preferred one).
    message.set_content(letter.text, subtype="plain", charset="utf-8")
    message.add_alternative(letter.html, subtype="html", charset="utf-8")
    if calendar is not None:
        message.add_alternative(
            calendar.ics,
            maintype="text",
            subtype="calendar",
            params={"method": calendar.method, "charset": "utf-8"},
        )
        message.make_mixed()
        message.add_attachment(
            calendar.ics, maintype="application", subtype="ics", filename=calendar.filename
        )
    data = message.as_bytes()
    verify_message(data, headers)
    return data


@dataclass(frozen=True)
class LetterParts:
    """The parts of one stored message, decoded but otherwise as they will be sent."""

    to_header: str
    subject: str
    text: str | None
    html: str | None
    calendar: bytes | None


def _content(part: Message | None) -> str | None:
    if not isinstance(part, EmailMessage):
        return None
    content = part.get_content()
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)


def _calendar_part(parsed: EmailMessage) -> bytes | None:
    for part in parsed.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


def letter_parts(data: bytes) -> LetterParts:
    """Read a message back into what a person reviews: subject, text, HTML and calendar."""
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return LetterParts(
        to_header=str(parsed.get("To", "")),
        subject=str(parsed.get("Subject", "")),
        text=_content(parsed.get_body(preferencelist=("plain",))),
        html=_content(parsed.get_body(preferencelist=("html",))),
        calendar=_calendar_part(parsed),
    )
