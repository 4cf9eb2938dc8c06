"""A local SMTP server (aiosmtpd on 127.0.0.1) that keeps every message it receives as a file.

Used by `mailer demo`, by `mailer smtp-server --store DIR` (to try templates without sending to
anyone) and as the benchmark's sink. Each message becomes `NNNNNN.eml`: the received bytes after
two lines naming the envelope (`X-Envelope-From`, `X-Envelope-To`), which a mail program shows.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from mailer.durable import private_directory
from mailer.errors import MailerError
from mailer.i18n import _

__all__ = [
    "LocalSmtpServer",
    "ReceivedMessage",
    "StoringHandler",
    "free_port",
    "read_received",
    "stop_when_settled",
]

ENVELOPE_FROM = b"X-Envelope-From: "
ENVELOPE_TO = b"X-Envelope-To: "


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (aiosmtpd's readiness probe needs a real one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _highest_number(directory: Path) -> int:
    numbers = [int(path.stem) for path in directory.glob("*.eml") if path.stem.isdigit()]
    return max(numbers, default=0)


class StoringHandler:
    """aiosmtpd handler: store each message in `directory`, or only count it when None."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = private_directory(directory) if directory is not None else None
        self.received = 0
        # Numbers go on after the highest one present; a gap (a message deleted by hand) is
        # never filled, and a taken name is never overwritten (see `_store`).
        self._next = _highest_number(self.directory) + 1 if self.directory else 1

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received += 1
        if self.directory is not None:
            envelope_lines = (
                ENVELOPE_FROM
                + str(envelope.mail_from).encode("utf-8")
                + b"\r\n"
                + ENVELOPE_TO
                + ", ".join(envelope.rcpt_tos).encode("utf-8")
                + b"\r\n"
            )
            content = envelope.original_content or envelope.content
            self._store(envelope_lines + bytes(content))
        return "250 2.0.0 Message accepted for delivery"

    def _store(self, data: bytes) -> None:
        assert self.directory is not None
        temporary = self.directory / f".incoming.{os.getpid()}.{self._next}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        try:
            # link() is the O_EXCL of renaming: it fails if the name exists (another server on
            # the same folder, or a file put there by hand), and readers never see half a file.
            while True:
                name = self.directory / f"{self._next:06d}.eml"
                self._next += 1
                try:
                    os.link(temporary, name)
                except FileExistsError:
                    continue
                return
        finally:
            temporary.unlink()


class LocalSmtpServer:
    """Start and stop the storing server on 127.0.0.1 (a context manager)."""

    def __init__(self, store: Path | None, port: int | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port(host)
        self.handler = StoringHandler(store)
        self._controller = Controller(
            self.handler,
            hostname=host,
            port=self.port,
            decode_data=False,
            enable_SMTPUTF8=True,
            data_size_limit=25 * 1024 * 1024,
        )

    def start(self) -> LocalSmtpServer:
        try:
            self._controller.start()
        except (OSError, RuntimeError) as error:
            raise MailerError(
                _(
                    "{host}:{port}: cannot start the local SMTP server ({problem}); "
                    "choose another port with --port"
                ).format(host=self.host, port=self.port, problem=error)
            ) from None
        return self

    def stop(self) -> None:
        stop_when_settled(self._controller)

    def __enter__(self) -> LocalSmtpServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def stop_when_settled(controller: Controller) -> None:
    """Stop `controller` once its event loop has finished what is already under way. A session
    that just answered QUIT has closed its connection, but the connection is only done at the
    loop's next turn: a loop stopped before that leaves the socket open."""
    settled = threading.Event()
    controller.loop.call_soon_threadsafe(controller.loop.call_soon, settled.set)
    settled.wait(timeout=5)
    controller.stop()


@dataclass(frozen=True)
class ReceivedMessage:
    """One stored message: the envelope and the message as the server received it."""

    path: Path
    envelope_from: str
    envelope_to: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


def read_received(directory: Path) -> list[ReceivedMessage]:
    """Every message the server stored in `directory`, in arrival order."""
    found = []
    for path in sorted(directory.glob("*.eml")):
        raw = path.read_bytes()
        first, second, data = raw.split(b"\r\n", 2)
        found.append(
            ReceivedMessage(
                path=path,
                envelope_from=first.removeprefix(ENVELOPE_FROM).decode("utf-8"),
                envelope_to=[
                    address
                    for address in second.removeprefix(ENVELOPE_TO).decode("utf-8").split(", ")
                    if address
                ],
                data=data,
            )
        )
    return found
