"""Real SMTP servers for the tests (aiosmtpd on 127.0.0.1) and outboxes full of approved messages.

Handlers record what arrived and can refuse recipients, refuse at DATA, drop the connection after
DATA or answer too slowly; `trustme` makes the certificates for STARTTLS and implicit TLS.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from mailer.config import load_settings
from mailer.letters.compose import Composer
from mailer.letters.rendering import LetterRenderer
from mailer.letters.template_signoff import sign_off
from mailer.outbox.queueing import queue_file
from mailer.outbox.store import Outbox
from mailer.review.decisions import approve, review_policy
from mailer.sending.local_server import free_port
from mailer.workspace import Workspace
from tests.conftest import intake_row, write_csv

USER = "intake"
PASSWORD = "correct horse battery staple"  # a test secret that must never be printed


@dataclass
class Arrival:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    """Accepts everything unless told otherwise; `arrivals` is what the server kept."""

    mail_reply: str | None = None  # refuse every MAIL FROM with this, e.g. "554 5.7.1 ..."
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> refusal
    data_reply: str | None = None  # e.g. "554 5.6.0 Message refused"
    drop_after_data: bool = False  # keep the message, then cut the connection (lost 250)
    data_delay: float = 0.0  # answer DATA this late
    arrivals: list[Arrival] = field(default_factory=list)
    mail_commands: int = 0

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.mail_commands += 1
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        refusal = self.rcpt_replies.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply:
            return self.data_reply
        self.arrivals.append(
            Arrival(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.drop_after_data:
            server.transport.abort()
        return "250 2.0.0 OK"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    good = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    # handled=False makes aiosmtpd send the reply (235 or 535); with the default it sends
    # nothing and the client hangs until its timeout.
    return AuthResult(success=good, handled=False)


@dataclass
class Certificates:
    ca: Any
    ca_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context


def make_certificates(directory: Path) -> Certificates:
    ca = trustme.CA()
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Certificates(ca, ca_file)


@contextmanager
def smtp_server(handler: Any, **options: Any) -> Iterator[Controller]:
    """A running aiosmtpd server on 127.0.0.1 with `handler`; `options` go to the Controller."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def smtp_env(controller: Controller, **extra: str) -> dict[str, str]:
    """The MAILER_* variables that point a workspace at `controller` without encryption."""
    values = {
        "MAILER_SMTP_HOST": "127.0.0.1",
        "MAILER_SMTP_PORT": str(controller.port),
        "MAILER_SMTP_SECURITY": "none",
        "MAILER_SMTP_TIMEOUT": "5",
    }
    values.update(extra)
    return values


def approved_outbox(
    workspace: Workspace, count: int, *, emails: list[list[str]] | None = None
) -> list[str]:
    """Queue `count` records and approve them all; return the message IDs in queueing order."""
    rows = []
    for number in range(count):
        addresses = (emails or [])[number] if emails else [f"ouder{number}@example.nl"]
        row = intake_row(id=f"PL-{number}", parent1_email=addresses[0], parent2_name="")
        row["parent2_email"] = addresses[1] if len(addresses) > 1 else ""
        if len(addresses) > 1:
            row["parent2_name"] = "Tweede ouder"
        rows.append(row)
    source = write_csv(workspace.root / "intakes.csv", rows)
    settings = load_settings(workspace.root)
    outbox = Outbox(workspace.outbox_dir)
    composer = Composer(settings, LetterRenderer(workspace.templates_dir))
    report = queue_file(source, outbox, composer, "coach")
    sign_off(workspace, "team")
    policy = review_policy(workspace, settings)
    for stored in report.queued:
        approve(outbox, stored.id, "reviewer", policy)
    return [stored.id for stored in report.queued]
