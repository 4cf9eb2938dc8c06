"""The local SMTP server of `mailer demo` and `mailer smtp-server` keeps what arrives as files."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from mailer.sending.local_server import LocalSmtpServer, read_received


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


def test_a_gap_in_the_numbers_never_leads_to_an_overwrite(tmp_path: Path) -> None:
    store = tmp_path / "received"
    store.mkdir()
    # Only 000002.eml is left (000001 was deleted by hand): counting files would reuse its name.
    kept = b"X-Envelope-From: a@example.nl\r\nX-Envelope-To: b@example.nl\r\nSubject: oud\r\n\r\n"
    (store / "000002.eml").write_bytes(kept)
    with LocalSmtpServer(store) as server:
        send(server.port, letter("nieuw"), ["zoe@example.nl"])
        # Someone else takes the next name while this server runs: it must move on, not replace.
        (store / "000004.eml").write_bytes(kept)
        send(server.port, letter("nieuwer"), ["zoe@example.nl"])
    assert (store / "000002.eml").read_bytes() == kept
    assert (store / "000004.eml").read_bytes() == kept
    subjects = {r.path.name: r.parsed()["Subject"] for r in read_received(store)}
    assert subjects == {
        "000002.eml": "oud",
        "000003.eml": "nieuw",
        "000004.eml": "oud",
        "000005.eml": "nieuwer",
    }
    assert not list(store.glob(".*"))
