"""The faster wire form for aiosmtplib's DATA: the same bytes as aiosmtplib's own, and the same
message at a real server."""

from __future__ import annotations

import re

from aiosmtplib import protocol
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer import smtp_wire
from mailer.asyncio_support import run
from mailer.config import Security, Settings
from mailer.sending.delivery import Outcome, deliver
from mailer.sending.smtp_client import connect
from tests.smtp_servers import RecordingHandler, smtp_server

# Line ends, dots and text in every order: what the two passes care about.
pieces = st.sampled_from(
    [b".", b"..", b"\r", b"\n", b"\r\n", b"\n.", b"\r\n.", b"a", b" ", b"\x00"]
)
messages = st.lists(pieces, max_size=24).map(b"".join)

AIOSMTPLIB_PERIOD = re.compile(rb"(?m)^\.")


@settings(max_examples=2000, deadline=None)
@given(message=messages)
def test_line_endings_come_out_as_aiosmtplib_makes_them(message: bytes) -> None:
    assert smtp_wire.normalized_line_endings(message) == smtp_wire._aiosmtplib_normalize(message)


@settings(max_examples=2000, deadline=None)
@given(message=messages)
def test_dots_at_line_starts_are_doubled_as_aiosmtplib_doubles_them(message: bytes) -> None:
    expected = AIOSMTPLIB_PERIOD.sub(b"..", message)
    assert smtp_wire.PERIOD_AT_LINE_START.sub(b"..", message) == expected


def test_it_installs_on_the_aiosmtplib_in_use_and_only_once() -> None:
    assert smtp_wire.install()
    assert smtp_wire.install()
    assert protocol.PERIOD_REGEX is smtp_wire.PERIOD_AT_LINE_START
    assert protocol.normalize_message_line_endings is smtp_wire.normalized_line_endings


def test_a_message_with_leading_dots_and_lone_line_ends_arrives_as_aiosmtplib_would_send_it() -> (
    None
):
    message = b"Subject: dots\r\n\r\n.one\r\n..two\r\nlone lf\nlone cr\r.\r\nend"
    handler = RecordingHandler()

    async def send(port: int) -> Outcome:
        settings = Settings(
            smtp_host="127.0.0.1", smtp_port=port, smtp_security=Security.NONE, smtp_timeout=5
        )
        client = await connect(settings)  # installs the wire form
        try:
            result = await deliver(client, "intake@opvang.example", ["ouder@example.nl"], message)
        finally:
            await client.quit()
        return result.outcome

    with smtp_server(handler) as server:
        assert run(send(server.port)) == Outcome.SENT  # on the loop sending uses
    assert protocol.PERIOD_REGEX is smtp_wire.PERIOD_AT_LINE_START
    [arrival] = handler.arrivals
    # The server undoes the dot-stuffing; the line ends are CRLF throughout.
    assert arrival.content == (
        b"Subject: dots\r\n\r\n.one\r\n..two\r\nlone lf\r\nlone cr\r\n.\r\nend\r\n"
    )
