"""Turning `Settings` into a logged-in aiosmtplib connection, and its failures into one line each.

TLS is always asked for explicitly (aiosmtplib's default silently stays plaintext when the server
offers no STARTTLS), certificates are verified (with an extra CA from `smtp_ca_file` if given), and
the password never appears in any error text. With `auth = "oauth2"` the login is SASL XOAUTH2
with an access token from `mailer.signin`, and a token is never sent unencrypted off this computer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import ssl
from dataclasses import dataclass

import aiosmtplib

from mailer.config import Security, Settings, SmtpAuth, is_loopback
from mailer.errors import ConfigError, MailerError, SignInFailed, SignInRequired
from mailer.i18n import _
from mailer.sending.replies import is_throttle
from mailer.signin import access_token, check_oauth_settings

__all__ = [
    "SmtpCertificateError",
    "SmtpConnectionError",
    "SmtpError",
    "SmtpLoginError",
    "SmtpThrottled",
    "SmtpUnreachable",
    "check_security",
    "connect",
    "describe_reply",
    "hang_up",
    "is_loopback",
    "scrub",
    "tls_context",
]


class SmtpError(MailerError):
    """The SMTP server could not be used; the message names host:port and what to do."""


class SmtpConnectionError(SmtpError):
    """No connection: refused, unreachable, timed out, or closed during the greeting."""


class SmtpUnreachable(SmtpConnectionError):
    """The server could not be reached or hung up: a setting, or a server that is busy."""


class SmtpThrottled(SmtpConnectionError):
    """The server turned the connection away for now (`421`, `432 4.3.2` for a connection too
    many, `454 4.7.0`): slow down and try again."""


class SmtpCertificateError(SmtpError):
    """The server's certificate is not trusted or does not match the host name."""


class SmtpLoginError(SmtpError):
    """The server refused the user name and password or the token (or offers no login), or no
    token could be had."""


# Microsoft 365: "550 5.7.30 Basic authentication is not supported for Client Submission" and
# "535 5.7.139 Authentication unsuccessful, basic authentication is disabled"; Google:
# "534 5.7.9 Application-specific password required" (and 535 5.7.8 for a refused password).
PASSWORDS_REFUSED = ("5.7.30", "5.7.139", "5.7.9")


def check_security(settings: Settings) -> None:
    """Refuse settings that cannot work or are unsafe, before any message is touched.

    Plaintext to another computer needs explicit permission; a CA file that cannot be read is
    found here rather than when the first connection opens.
    """
    oauth = settings.smtp_auth == SmtpAuth.OAUTH2
    check_oauth_settings(settings)
    if oauth and settings.smtp_security == Security.NONE and not is_loopback(settings.smtp_host):
        # Unlike a password, never allowed: a token would be readable on the way.
        raise ConfigError(
            _(
                "smtp security 'none' would send the sign-in token unencrypted to {host}; use "
                "'starttls' (port 587) or 'tls' (port 465) (MAILER_SMTP_SECURITY)"
            ).format(host=settings.smtp_host)
        )
    if not oauth and settings.smtp_username and not settings.smtp_password.get_secret_value():
        raise ConfigError(
            _(
                "smtp_username is {username!r} but no password is set; "
                "set MAILER_SMTP_PASSWORD in the environment or in the workspace's .env"
            ).format(username=settings.smtp_username)
        )
    if settings.smtp_security != Security.NONE:
        tls_context(settings)
        return
    if not is_loopback(settings.smtp_host) and not settings.smtp_allow_plaintext_remote:
        raise ConfigError(
            _(
                "smtp security 'none' sends letters unencrypted to {host}; use "
                "'starttls' or 'tls' (MAILER_SMTP_SECURITY), or set "
                "MAILER_SMTP_ALLOW_PLAINTEXT_REMOTE=true if you really mean it"
            ).format(host=settings.smtp_host)
        )


def tls_context(settings: Settings) -> ssl.SSLContext:
    """The system's trusted CAs, plus `smtp_ca_file` when given; host names are checked."""
    context = ssl.create_default_context()
    if settings.smtp_ca_file:
        try:
            context.load_verify_locations(cafile=settings.smtp_ca_file)
        except (OSError, ssl.SSLError) as error:
            raise ConfigError(
                _(
                    "smtp_ca_file {file}: cannot be read as a PEM CA certificate ({problem}); "
                    "check MAILER_SMTP_CA_FILE"
                ).format(file=settings.smtp_ca_file, problem=error.__class__.__name__)
            ) from None
    return context


# A run of base64 long enough to hold a login (AUTH PLAIN, AUTH LOGIN, XOAUTH2 send it so).
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _holds_a_login(run: str, password: str) -> bool:
    """Whether a base64 run decodes to (part of) a login: the password, a PLAIN blob
    (`\\0user\\0password`) or an XOAUTH2 blob (`auth=Bearer TOKEN`)."""
    for start in range(4):  # an echo may be cut off at the front
        piece = run[start:]
        piece = piece[: len(piece) - len(piece) % 4] if not piece.endswith("=") else piece
        try:
            decoded = base64.b64decode(piece, validate=True)
        except (ValueError, binascii.Error):
            continue
        if b"\x00" in decoded or b"auth=Bearer" in decoded:
            return True
        if password and password.encode("utf-8") in decoded:
            return True
    return False


def scrub(text: str, settings: Settings) -> str:
    """`text` without the password, and without any base64 that holds a login: a server that
    echoes the AUTH exchange in its reply must not get the login into an error line."""
    secret = settings.smtp_password.get_secret_value()
    if secret:
        login = f"\0{settings.smtp_username}\0{secret}"
        for form in (secret, *(_base64(value) for value in (secret, login))):
            text = text.replace(form, "***")
    return _BASE64_RUN.sub(
        lambda match: "***" if _holds_a_login(match.group(), secret) else match.group(), text
    )


def describe_reply(code: int, message: str) -> str:
    """A server reply on one line: `550 5.1.1 User unknown`."""
    return " ".join(f"{code} {message}".split())


@dataclass(frozen=True)
class _Where:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def _client(settings: Settings) -> aiosmtplib.SMTP:
    security = settings.smtp_security
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout,
        use_tls=security == Security.TLS,
        start_tls=security == Security.STARTTLS,
        validate_certs=True,
        tls_context=tls_context(settings) if security != Security.NONE else None,
    )


def _wrap(error: BaseException, where: _Where, settings: Settings) -> SmtpError:
    if isinstance(error, SmtpError):  # already one line, with host:port
        return error
    if isinstance(error, aiosmtplib.SMTPResponseException) and is_throttle(
        error.code, error.message
    ):
        reply = scrub(describe_reply(error.code, error.message), settings)
        return SmtpThrottled(
            _("{where}: the server asks to slow down ({reply})").format(where=where, reply=reply)
        )
    if isinstance(error, SignInRequired | SignInFailed):
        return SmtpLoginError(str(error))
    if isinstance(error, MailerError):  # a configuration problem found while connecting
        return SmtpConnectionError(str(error))
    if isinstance(error, UnicodeError):  # the IDNA codec refuses the name (`a..example`)
        return SmtpConnectionError(
            _("{where}: {host!r} is not a valid host name; check MAILER_SMTP_HOST").format(
                where=where, host=settings.smtp_host
            )
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or "verification failed"
        return SmtpCertificateError(
            _(
                "{where}: the server's certificate is not trusted ({reason}); check "
                "MAILER_SMTP_HOST, or set MAILER_SMTP_CA_FILE to your organisation's CA "
                "certificate"
            ).format(where=where, reason=reason)
        )
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return _login_refused(error, where, settings)
    if isinstance(error, aiosmtplib.SMTPNotSupported):
        return SmtpConnectionError(
            _(
                "{where}: {problem}; check MAILER_SMTP_SECURITY (starttls for port 587, tls for "
                "port 465)"
            ).format(where=where, problem=scrub(str(error), settings))
        )
    if isinstance(error, aiosmtplib.SMTPException) and "STARTTLS extension" in str(error):
        return SmtpConnectionError(
            _(
                "{where}: the server does not offer STARTTLS (encryption); check "
                "MAILER_SMTP_SECURITY ('tls' for port 465) and MAILER_SMTP_PORT"
            ).format(where=where)
        )
    if isinstance(error, ssl.SSLError):
        return SmtpConnectionError(
            _(
                "{where}: TLS failed ({reason}); check MAILER_SMTP_SECURITY and MAILER_SMTP_PORT "
                "(starttls for 587, tls for 465)"
            ).format(where=where, reason=error.reason or error.__class__.__name__)
        )
    if isinstance(error, aiosmtplib.SMTPException) and "AUTH extension" in str(error):
        return SmtpLoginError(
            _(
                "{where}: the server offers no login; leave MAILER_SMTP_USERNAME empty "
                "or use an encrypted connection"
            ).format(where=where)
        )
    detail = scrub(str(error), settings) or error.__class__.__name__
    return SmtpUnreachable(
        _(
            "{where}: cannot connect ({problem}); check MAILER_SMTP_HOST and "
            "MAILER_SMTP_PORT, and that the mail server is reachable"
        ).format(where=where, problem=" ".join(detail.split()))
    )


def _login_refused(
    error: aiosmtplib.SMTPAuthenticationError, where: _Where, settings: Settings
) -> SmtpLoginError:
    """The way out depends on what was refused: a token (sign in again), a password the
    provider no longer takes (switch to OAuth), or perhaps just a wrong password."""
    reply = scrub(describe_reply(error.code, error.message), settings)
    user = settings.smtp_username
    if settings.smtp_auth == SmtpAuth.OAUTH2:
        return SmtpLoginError(
            _(
                "{where}: login as {user!r} with a sign-in token refused ({reply}); the sign-in "
                "has expired, was revoked or lacks the SMTP.Send permission: run `mailer login`"
            ).format(where=where, user=user, reply=reply)
        )
    if any(code in reply for code in PASSWORDS_REFUSED):
        return SmtpLoginError(
            _(
                "{where}: login as {user!r} refused ({reply}); the provider no longer accepts "
                'passwords: set auth = "oauth2" under [smtp] (MAILER_SMTP_AUTH) and run '
                "`mailer login`"
            ).format(where=where, user=user, reply=reply)
        )
    return SmtpLoginError(
        _(
            "{where}: login as {user!r} refused ({reply}); check MAILER_SMTP_USERNAME and "
            "MAILER_SMTP_PASSWORD, or, if your provider (Microsoft 365, Google) no longer "
            'accepts passwords, set auth = "oauth2" under [smtp] (MAILER_SMTP_AUTH) and run '
            "`mailer login`"
        ).format(where=where, user=user, reply=reply)
    )


async def _log_in(client: aiosmtplib.SMTP, settings: Settings) -> None:
    if settings.smtp_auth == SmtpAuth.OAUTH2:
        # aiosmtplib's `login` would try PLAIN/LOGIN with the token; XOAUTH2 only, and only
        # when offered, so that a server without it gets a clear line instead of a 5xx.
        if client.is_ehlo_or_helo_needed:  # after STARTTLS the server is asked again
            await client.ehlo()
        if "xoauth2" not in client.server_auth_methods:
            raise SmtpLoginError(
                _(
                    "{host}:{port}: the server offers no OAuth login (AUTH XOAUTH2); check "
                    'MAILER_SMTP_HOST, or set auth = "password"'
                ).format(host=settings.smtp_host, port=settings.smtp_port)
            )
        # The token may need a round trip to the provider: off the event loop, which other
        # connections of the run share.
        token = await asyncio.to_thread(access_token, settings)
        await client.auth_xoauth2(settings.smtp_username, token)
    elif settings.smtp_username:
        await client.login(settings.smtp_username, settings.smtp_password.get_secret_value())


async def connect(settings: Settings) -> aiosmtplib.SMTP:
    """An open, logged-in connection, or one `SmtpError` line saying what to fix.

    Every failure becomes an `SmtpError` (never a traceback, and a caller that catches it knows
    that no connection exists); cancellation passes through.
    """
    where = _Where(settings.smtp_host, settings.smtp_port)
    client: aiosmtplib.SMTP | None = None
    try:
        check_security(settings)
        client = _client(settings)
        await client.connect()
        await _log_in(client, settings)
    except Exception as error:  # every cause is named in `_wrap`'s one line
        if client is not None:
            await hang_up(client)
        raise _wrap(error, where, settings) from None
    return client


_CLOSE_TURNS = 100  # at most a second


async def hang_up(client: aiosmtplib.SMTP) -> None:
    """End a connection: politely (QUIT) if it still can, then wait until its socket is closed.

    Under TLS the socket closes only after the close_notify exchange, a few turns of the event
    loop after QUIT (which already drops aiosmtplib's hold on the transport, so the socket is
    noted first); a caller that ends its event loop sooner would leak it."""
    transport = client.transport
    raw_socket = transport.get_extra_info("socket") if transport is not None else None
    try:
        if client.is_connected:
            await asyncio.wait_for(client.quit(), timeout=5)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass
    finally:
        client.close()
    for _turn in range(_CLOSE_TURNS):
        if raw_socket is None or raw_socket.fileno() == -1:
            return
        await asyncio.sleep(0.01)
