"""Building the e-mail from a rendered letter, and proving it is exactly what was meant.

The stdlib's classic MIME classes (`email.mime`) write the structure: each address is encoded on
its own (RFC 2047) and the To header folds between addresses, never inside an encoded word (the
newer `EmailMessage` API on this Python folds a long list of non-ASCII names into one that reads
back as a single address), and it costs a tenth of the newer API's header parsing. Because this
Python writes an encoded CR/LF in a header out as a real header line (CVE-2024-6923), the header
block of every built message is parsed back and refused unless it is exactly the expected one.

The stored (and approved) bytes carry no `Date:`: a letter queued on Monday and sent on Thursday
must say Thursday. `mailer.letters.dating` puts the header in front when the message is handed to
the server; the approval still covers every stored byte, and the only addition is the sending time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email import charset, message_from_bytes, policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.parser import BytesHeaderParser
from email.utils import formataddr, make_msgid
from typing import Any

from mailer.errors import UnsafeMessage
from mailer.i18n import _
from mailer.letters.rendering import RenderedLetter
from mailer.text_safety import check_header_safe

__all__ = [
    "CalendarPart",
    "LetterParts",
    "MessageHeaders",
    "build_message",
    "check_recipients",
    "letter_parts",
    "new_message_id",
    "verify_message",
]

MAX_LINE_OCTETS = 998  # RFC 5322 section 2.1.1
_WIRE = policy.compat32.clone(linesep="\r\n")  # the classic classes' policy, with SMTP's CRLF
# Letters are mostly ASCII: quoted-printable keeps them readable in `mailer show --raw`.
_READABLE_UTF8 = charset.Charset("utf-8")
_READABLE_UTF8.body_encoding = charset.QP
_HEADERS_ONLY = BytesHeaderParser(policy=policy.default)


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
        "Message-ID": headers.message_id,
    }
    if headers.reply_to is not None:
        expected["Reply-To"] = str(headers.reply_to)
    return expected


def _check_header_values(headers: MessageHeaders) -> None:
    for value in (headers.subject, headers.message_id):
        try:
            check_header_safe(value)
        except ValueError as error:
            raise UnsafeMessage(
                _("header value {value!r} {problem}").format(value=value, problem=error)
            ) from None
    for address in (headers.sender, headers.reply_to, *headers.to):
        if address is None:
            continue
        try:
            check_header_safe(address.display_name)
            check_header_safe(address.addr_spec)
        except ValueError as error:
            raise UnsafeMessage(
                _("address {address!r} {problem}").format(address=address.addr_spec, problem=error)
            ) from None


def _expected_addresses(headers: MessageHeaders) -> dict[str, list[str]]:
    expected = {
        "From": [headers.sender.addr_spec],
        "To": [address.addr_spec for address in headers.to],
    }
    if headers.reply_to is not None:
        expected["Reply-To"] = [headers.reply_to.addr_spec]
    return expected


def verify_message(data: bytes, headers: MessageHeaders) -> None:
    """Raise UnsafeMessage unless `data` parses back to exactly the expected top-level headers.

    Only the header block is parsed: every value that comes from a record or the settings is a
    top-level header; the parts' headers are the builder's own constants.
    """
    parsed = _HEADERS_ONLY.parsebytes(data)
    expected = _expected_headers(headers)
    structural = ["MIME-Version", "Content-Type"]
    if sorted(parsed.keys()) != sorted([*expected, *structural]):
        unexpected = sorted(set(parsed.keys()) - set(expected) - set(structural))
        raise UnsafeMessage(
            _(
                "the message has unexpected headers ({names}); a field holds text that mail "
                "programs read as a header"
            ).format(names=", ".join(unexpected) or _("duplicates"))
        )
    for name, addresses in _expected_addresses(headers).items():
        if _addresses_in(parsed, name) != addresses:
            raise UnsafeMessage(f"the {name} header does not hold exactly the expected addresses")
    for name in ("Subject", "Message-ID"):
        # Folding may move a value to a continuation line; unfolded words must be identical.
        if str(parsed[name]).split() != expected[name].split():
            raise UnsafeMessage(f"the {name} header changed when the message was written out")
    for line in data.split(b"\r\n"):
        if len(line) > MAX_LINE_OCTETS:
            raise UnsafeMessage(f"a line is longer than {MAX_LINE_OCTETS} octets")


def _addresses_in(parsed: Message, name: str) -> list[str] | None:
    """The addresses a header holds as a mail program reads them, or None when it cannot."""
    try:
        header: Any = parsed[name]
        return [address.addr_spec for address in header.addresses]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None  # e.g. a name the parser reads as a group ("a: b;")


def check_recipients(to: Sequence[Address]) -> None:
    """Raise UnsafeMessage unless a To header of exactly these addresses is written and read
    back unchanged: the same check `build_message` makes, without a letter, so that intake
    validation finds a problem before anything is queued."""
    message = Message(policy=_WIRE)
    message["To"] = ", ".join(_mailbox(address) for address in to)
    parsed = _HEADERS_ONLY.parsebytes(message.as_bytes(policy=_WIRE))
    if _addresses_in(parsed, "To") != [address.addr_spec for address in to]:
        raise UnsafeMessage("the To header does not hold exactly the expected addresses")


def _mailbox(address: Address) -> str:
    """`Name <addr>`, the name encoded on its own when it is not ASCII."""
    return formataddr((address.display_name, address.addr_spec), charset="utf-8")


def _header_text(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _text_part(content: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, policy=_WIRE)
    part.set_payload(content, _READABLE_UTF8)  # also sets the charset and the encoding
    return part


def _body(letter: RenderedLetter, calendar: CalendarPart | None) -> MIMEMultipart:
    """multipart/alternative: plain text first, HTML after it (the last part is the preferred
    one), then the calendar invitation that mail programs show inline; with a calendar, the
    whole inside multipart/mixed beside the same invitation as an `.ics` attachment."""
    alternative = MIMEMultipart("alternative", policy=_WIRE)
    alternative.attach(_text_part(letter.text, "plain"))
    alternative.attach(_text_part(letter.html, "html"))
    if calendar is None:
        return alternative
    # base64: the calendar's CRLF line ends must arrive exactly as they are.
    inline = MIMEText(calendar.ics.decode("utf-8"), "calendar", "utf-8")
    inline.set_param("method", calendar.method)
    alternative.attach(inline)
    attachment = MIMEApplication(calendar.ics, "ics")
    attachment.add_header("Content-Disposition", "attachment", filename=calendar.filename)
    mixed = MIMEMultipart("mixed", policy=_WIRE)
    mixed.attach(alternative)
    mixed.attach(attachment)
    return mixed


def build_message(
    headers: MessageHeaders, letter: RenderedLetter, calendar: CalendarPart | None = None
) -> bytes:
    """The finished message as the exact bytes that will be stored, reviewed and sent."""
    _check_header_values(headers)
    message = _body(letter, calendar)
    message["From"] = _mailbox(headers.sender)
    message["To"] = ", ".join(_mailbox(address) for address in headers.to)
    message["Subject"] = _header_text(headers.subject)  # type: ignore[assignment]
    message["Message-ID"] = headers.message_id
    if headers.reply_to is not None:
        message["Reply-To"] = _mailbox(headers.reply_to)
    data = message.as_bytes(policy=_WIRE)
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
