"""Real SMTP servers for the tests (aiosmtpd on 127.0.0.1) and outboxes full of approved messages.

Handlers record what arrived and can refuse recipients, refuse at DATA, drop the connection after
DATA or answer too slowly; `trustme` makes the certificates for STARTTLS and implicit TLS.
`XOAuth2Handler` is a Microsoft 365-like server: AUTH XOAUTH2 with tokens from a `TokenBook`, and
no passwords (`refuse_basic_auth`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
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
from mailer.sending.local_server import free_port, stop_when_settled
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


# Exchange Online's answers to a password login since Basic authentication ended, and to a
# token it does not accept (expired, revoked, for another mailbox, or without SMTP.Send).
BASIC_AUTH_REFUSED = "550 5.7.30 Basic authentication is not supported for Client Submission"
TOKEN_REFUSED = "535 5.7.3 Authentication unsuccessful"
GOOGLE_TOKEN_REFUSED = "535 5.7.8 Username and Password not accepted"


def refuse_basic_auth(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    """The `authenticator` of a server that takes no passwords (AUTH PLAIN and LOGIN)."""
    return AuthResult(success=False, handled=False, message=BASIC_AUTH_REFUSED)


@dataclass
class TokenBook:
    """The access tokens a sign-in service issued, and for which mailbox."""

    valid: dict[str, str] = field(default_factory=dict)

    def expire(self, token: str) -> None:
        self.valid.pop(token, None)


@dataclass
class XOAuth2Handler(RecordingHandler):
    """A RecordingHandler that also speaks AUTH XOAUTH2 (aiosmtpd calls `auth_<MECHANISM>` on
    the handler). `google_style` answers a bad token as Gmail does: a 334 challenge with a JSON
    error first, then 535 after the client's empty line."""

    tokens: TokenBook = field(default_factory=TokenBook)
    google_style: bool = False
    logins: list[tuple[str, str, bool]] = field(default_factory=list)  # (user, token, accepted)

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:  # noqa: N802
        if len(args) == 2:
            encoded: Any = args[1].encode()
        else:
            encoded = await server.challenge_auth("", encode_to_b64=False)
        try:
            blob = base64.b64decode(encoded, validate=True) if len(args) == 2 else encoded
            user_part, auth_part, *_ = blob.decode().split("\x01")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return AuthResult(success=False, handled=False, message="501 5.5.2 Bad XOAUTH2")
        user = user_part.removeprefix("user=")
        token = auth_part.removeprefix("auth=Bearer ")
        accepted = self.tokens.valid.get(token) == user
        self.logins.append((user, token, accepted))
        if accepted:
            return AuthResult(success=True, auth_data=user)
        if self.google_style:
            error = {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"}
            challenge = base64.b64encode(json.dumps(error).encode()).decode()
            await server.challenge_auth(challenge, encode_to_b64=False)
            return AuthResult(success=False, handled=False, message=GOOGLE_TOKEN_REFUSED)
        return AuthResult(success=False, handled=False, message=TOKEN_REFUSED)


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
        stop_when_settled(controller)


def xoauth2_server(certificates: Certificates, handler: XOAuth2Handler) -> Any:
    """A running STARTTLS server (port 587 style) that takes tokens only, as Exchange Online."""
    return smtp_server(
        handler,
        tls_context=certificates.server_context(),
        require_starttls=True,
        authenticator=refuse_basic_auth,
        auth_require_tls=True,
    )


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
    outbox = Outbox.of_workspace(workspace, settings)
    composer = Composer(settings, LetterRenderer(workspace.templates_dir))
    report = queue_file(source, outbox, composer, "coach")
    sign_off(workspace, "team")
    policy = review_policy(workspace, settings)
    for stored in report.queued:
        approve(outbox, stored.id, "reviewer", policy)
    return [stored.id for stored in report.queued]
