"""Building messages: MIME structure, exact headers, and refusal of forged headers."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage

import pytest

from mailer.clock import AMSTERDAM
from mailer.errors import UnsafeMessage
from mailer.letters.dating import dated
from mailer.letters.message import (
    MessageHeaders,
    build_message,
    check_recipients,
    new_message_id,
    verify_message,
)
from mailer.letters.rendering import RenderedLetter

# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


LETTER = RenderedLetter(
    subject="Uitnodiging voor Zoë", text="Beste Ümit,\n\nTot dan!\n", html="<p>Beste Ümit,</p>"
)


def headers(**overrides: object) -> MessageHeaders:
    values: dict[str, object] = {
        "sender": Address("Kinderopvang Đorđe", "intake", "speeldoos.example"),
        "to": [
            Address("Anaïs Dubois", "anais", "example.fr"),
            Address("Mark", "mark", "example.nl"),
        ],
        "subject": "Uitnodiging voor Zoë",
        "message_id": "<abc.123@speeldoos.example>",
        "reply_to": Address("Locatie", "locatie", "speeldoos.example"),
    }
    values.update(overrides)
    return MessageHeaders(**values)  # type: ignore[arg-type]


def content(part: object) -> str:
    """A part's text with the wire's CRLF line ends turned back into newlines."""
    assert isinstance(part, EmailMessage)
    text = part.get_content()
    assert isinstance(text, str)
    return text.replace("\r\n", "\n")


def parse(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_alternative_has_text_first_and_html_last_in_utf8() -> None:
    parsed = parse(build_message(headers(), LETTER))
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parts)
    assert content(parts[0]) == LETTER.text
    assert "Beste Ümit" in content(parts[1])


def test_headers_are_exactly_the_expected_ones_with_non_ascii_names_intact() -> None:
    parsed = parse(build_message(headers(), LETTER))
    assert sorted(parsed.keys()) == sorted(
        ["From", "To", "Reply-To", "Subject", "Message-ID", "MIME-Version", "Content-Type"]
    )
    assert str(parsed["Subject"]) == "Uitnodiging voor Zoë"
    assert str(parsed["From"]) == "Kinderopvang Đorđe <intake@speeldoos.example>"
    assert [a.display_name for a in parsed["To"].addresses] == ["Anaïs Dubois", "Mark"]


def test_the_approved_bytes_carry_no_date_and_sending_puts_one_in_front() -> None:
    data = build_message(headers(), LETTER)
    assert parse(data)["Date"] is None
    sent = dated(data, datetime(2026, 12, 3, 9, 30, tzinfo=AMSTERDAM))
    assert sent == b"Date: Thu, 03 Dec 2026 09:30:00 +0100\r\n" + data
    parsed = parse(sent)
    assert str(parsed["Date"]).endswith("+0100")
    assert str(parsed["Subject"]) == "Uitnodiging voor Zoë"
    summer = parse(dated(data, datetime(2027, 7, 1, 10, tzinfo=AMSTERDAM)))
    assert str(summer["Date"]).endswith("+0200")


def test_a_sending_time_without_zone_is_refused() -> None:
    with pytest.raises(UnsafeMessage, match="time zone"):
        dated(build_message(headers(), LETTER), datetime(2026, 12, 1, 10, 0))


def test_message_id_is_on_the_senders_domain() -> None:
    assert new_message_id("speeldoos.example").endswith("@speeldoos.example>")


@pytest.mark.parametrize(
    "subject", ["=?utf-8?q?Hallo=0D=0ABcc:_evil@attacker.example?=", "Hallo\r\nBcc: evil@x.example"]
)
def test_encoded_or_literal_line_breaks_in_a_header_are_refused(subject: str) -> None:
    with pytest.raises(UnsafeMessage):
        build_message(headers(subject=subject), LETTER)


def test_encoded_line_break_in_a_display_name_is_refused() -> None:
    forged = Address("=?utf-8?q?x=0D=0ABcc:_e@x.example?=", "sanne", "example.nl")
    with pytest.raises(UnsafeMessage):
        build_message(headers(to=[forged]), LETTER)


def test_verify_refuses_bytes_with_an_extra_header() -> None:
    data = build_message(headers(), LETTER)
    forged = data.replace(b"Subject:", b"Bcc: evil@attacker.example\r\nSubject:", 1)
    with pytest.raises(UnsafeMessage, match="unexpected headers"):
        verify_message(forged, headers())


def test_verify_refuses_bytes_with_other_recipients() -> None:
    data = build_message(headers(), LETTER)
    with pytest.raises(UnsafeMessage, match="To header"):
        verify_message(data, headers(to=[Address("Mark", "mark", "example.nl")]))


def test_long_lines_are_encoded_below_the_rfc_limit() -> None:
    letter = RenderedLetter(
        subject="S", text="woord " * 600 + "\n", html="<p>" + "x" * 5000 + "</p>"
    )
    data = build_message(headers(), letter)
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert content(parse(data).get_body(("html",))).rstrip("\n") == letter.html


def test_long_addresses_with_non_ascii_names_stay_two_addresses() -> None:
    # This Python's EmailMessage folded such a To into one encoded comma, which reads back as
    # a single address: the family's letter could not be made.
    parents = [
        Address("Hélène", "helene.vandenheuvelbrouwer.1689", "example.net"),
        Address("Anaïs", "anais.vandenheuvelbrouwer.1689b", "example.org"),
    ]
    parsed = parse(build_message(headers(to=parents), LETTER))
    assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [
        ("Hélène", "helene.vandenheuvelbrouwer.1689@example.net"),
        ("Anaïs", "anais.vandenheuvelbrouwer.1689b@example.org"),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "Jan: de Vries;",
        "Smit, Jan",
        'Jan "papa" de Vries',
        "Rachid van den Heuvel-Brouwer",
        "Ünal: Yılmaz; en Ayşe",
        "Hélène " * 17,
    ],
)
def test_the_recipient_check_of_validation_agrees_with_the_built_message(name: str) -> None:
    to = [
        Address(name.strip(), "helene.vandenheuvelbrouwer.1689", "example.net"),
        Address("Anaïs", "anais.vandenheuvelbrouwer.1689b", "xn--bcher-kva.example"),
    ]
    try:
        check_recipients(to)
    except UnsafeMessage:
        with pytest.raises(UnsafeMessage):
            build_message(headers(to=to), LETTER)
        return
    parsed = message_from_bytes(build_message(headers(to=to), LETTER), policy=policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == [a.addr_spec for a in to]


def test_a_letter_stored_with_its_own_date_is_sent_with_one_date() -> None:
    # Letters queued before Date was set at sending carry their own, and were approved so.
    moment = datetime(2026, 12, 3, 10, 0, tzinfo=AMSTERDAM)
    stored = (
        b"Subject: x\r\nDate: Mon, 30 Nov 2026 09:00:00 +0100\r\nTo: a@example.nl\r\n\r\nbody\r\n"
    )
    assert dated(stored, moment) == stored
    fresh = b"Subject: x\r\nTo: a@example.nl\r\n\r\nDate: in the body\r\n"
    sent = message_from_bytes(dated(fresh, moment))
    assert sent.get_all("Date") == ["Thu, 03 Dec 2026 10:00:00 +0100"]
