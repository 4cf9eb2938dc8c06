"""The local SMTP server of `mailer demo` and `mailer smtp-server` keeps what arrives as files."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from mailer.smtp_server import LocalSmtpServer, read_received


def letter(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Opvang <intake@opvang.example>"
    message["To"] = "Zoë <zoe@example.nl>"
    message["Subject"] = subject
    message.set_content("Beste ouder,\n\nTot ziens.\n")
    return message


def send(port: int, message: EmailMessage, recipients: list[str]) -> None:
    asyncio.run(
        aiosmtplib.send(
            message, hostname="127.0.0.1", port=port, recipients=recipients, start_tls=False
        )
    )


def test_each_message_is_kept_with_its_envelope(tmp_path: Path) -> None:
    store = tmp_path / "received"
    with LocalSmtpServer(store) as server:
        send(server.port, letter("Uitnodiging één"), ["zoe@example.nl", "mark@example.nl"])
        send(server.port, letter("Uitnodiging twee"), ["ayse@example.nl"])
    received = read_received(store)
    assert [r.path.name for r in received] == ["000001.eml", "000002.eml"]
    assert received[0].envelope_to == ["zoe@example.nl", "mark@example.nl"]
    assert received[0].envelope_from == "intake@opvang.example"
    assert received[0].parsed()["Subject"] == "Uitnodiging één"
    assert received[1].envelope_to == ["ayse@example.nl"]
    assert server.handler.received == 2
    assert (store.stat().st_mode & 0o777) == 0o700


def test_a_restarted_server_does_not_overwrite_earlier_messages(tmp_path: Path) -> None:
    store = tmp_path / "received"
    for subject in ("eerste", "tweede"):
        with LocalSmtpServer(store) as server:
            send(server.port, letter(subject), ["zoe@example.nl"])
    subjects = [r.parsed()["Subject"] for r in read_received(store)]
    assert subjects == ["eerste", "tweede"]


def test_without_a_folder_it_only_counts(tmp_path: Path) -> None:
    with LocalSmtpServer(None) as server:
        send(server.port, letter("tel mij"), ["zoe@example.nl"])
    assert server.handler.received == 1
    assert list(tmp_path.iterdir()) == []
