"""Connecting and logging in against a real aiosmtpd server: STARTTLS, implicit TLS, certificates,
passwords, and plaintext only where it is safe."""

from __future__ import annotations

from asyncio import run
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from mailer.config import Security, Settings
from mailer.errors import ConfigError
from mailer.sending.local_server import free_port
from mailer.sending.smtp_client import (
    SmtpCertificateError,
    SmtpConnectionError,
    SmtpLoginError,
    check_security,
    connect,
    is_loopback,
)
from tests.smtp_servers import (
    PASSWORD,
    USER,
    Certificates,
    RecordingHandler,
    authenticator,
    smtp_server,
)

# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


def settings_for(port: int, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_timeout": 5,
        "smtp_security": Security.STARTTLS,
    }
    base.update(values)
    return Settings(**base)


async def connect_and_ehlo(settings: Settings) -> tuple[bool, bool]:
    client = await connect(settings)
    try:
        encrypted = client.get_transport_info("sslcontext") is not None
        return encrypted, client.is_connected
    finally:
        await client.quit()


def starttls_server(certificates: Certificates) -> Any:
    return smtp_server(
        RecordingHandler(),
        tls_context=certificates.server_context(),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )


def test_starttls_with_login_and_a_trusted_ca_file(certificates: Certificates) -> None:
    with starttls_server(certificates) as server:
        settings = settings_for(
            server.port,
            smtp_ca_file=str(certificates.ca_file),
            smtp_username=USER,
            smtp_password=SecretStr(PASSWORD),
        )
        encrypted, connected = run(connect_and_ehlo(settings))
    assert encrypted and connected


def test_implicit_tls_with_login(certificates: Certificates) -> None:
    with smtp_server(
        RecordingHandler(),
        ssl_context=certificates.server_context(),
        authenticator=authenticator,
        auth_require_tls=False,  # aiosmtpd does not see implicit TLS as TLS (aiosmtpd #281)
    ) as server:
        settings = settings_for(
            server.port,
            smtp_security=Security.TLS,
            smtp_ca_file=str(certificates.ca_file),
            smtp_username=USER,
            smtp_password=SecretStr(PASSWORD),
        )
        encrypted, _ = run(connect_and_ehlo(settings))
    assert encrypted


def test_untrusted_certificate_is_one_clear_line(certificates: Certificates) -> None:
    with starttls_server(certificates) as server:
        settings = settings_for(server.port, smtp_username=USER, smtp_password=SecretStr(PASSWORD))
        with pytest.raises(SmtpCertificateError) as caught:
            run(connect_and_ehlo(settings))
    text = str(caught.value)
    assert "\n" not in text
    assert "not trusted" in text and "MAILER_SMTP_CA_FILE" in text
    assert PASSWORD not in text


def test_wrong_password_is_refused_without_showing_it(certificates: Certificates) -> None:
    wrong = "hunter2-wrong-secret"
    with starttls_server(certificates) as server:
        settings = settings_for(
            server.port,
            smtp_ca_file=str(certificates.ca_file),
            smtp_username=USER,
            smtp_password=SecretStr(wrong),
        )
        with pytest.raises(SmtpLoginError) as caught:
            run(connect_and_ehlo(settings))
    text = str(caught.value)
    assert "535" in text and "MAILER_SMTP_PASSWORD" in text
    assert wrong not in text and "\n" not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_starttls_is_demanded_even_when_the_server_does_not_offer_it() -> None:
    # aiosmtplib's default would silently carry on in plaintext here.
    with smtp_server(RecordingHandler()) as server, pytest.raises(SmtpConnectionError) as caught:
        run(connect_and_ehlo(settings_for(server.port)))
    assert "starttls" in str(caught.value).lower()


def test_nothing_listening_is_a_connection_error() -> None:
    settings = settings_for(free_port(), smtp_security=Security.NONE)
    with pytest.raises(SmtpConnectionError, match="cannot connect"):
        run(connect_and_ehlo(settings))


def test_plaintext_is_fine_on_this_computer() -> None:
    with smtp_server(RecordingHandler()) as server:
        encrypted, connected = run(
            connect_and_ehlo(settings_for(server.port, smtp_security=Security.NONE))
        )
    assert connected and not encrypted


def test_plaintext_to_another_computer_needs_the_named_option() -> None:
    remote = settings_for(25, smtp_host="mail.example.nl", smtp_security=Security.NONE)
    with pytest.raises(ConfigError, match="MAILER_SMTP_ALLOW_PLAINTEXT_REMOTE"):
        check_security(remote)
    check_security(remote.model_copy(update={"smtp_allow_plaintext_remote": True}))


def test_a_username_without_password_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="MAILER_SMTP_PASSWORD"):
        check_security(settings_for(587, smtp_username=USER))


def test_an_unreadable_ca_file_is_named(tmp_path: Path) -> None:
    settings = settings_for(587, smtp_ca_file=str(tmp_path / "missing.pem"))
    # Before anything happens (a send checks this before planning) ...
    with pytest.raises(ConfigError, match=r"missing\.pem"):
        check_security(settings)
    # ... and as the one kind of error a caller of connect() has to expect.
    with pytest.raises(SmtpConnectionError, match=r"missing\.pem.*MAILER_SMTP_CA_FILE"):
        run(connect_and_ehlo(settings))


def test_a_mistyped_host_name_is_one_clear_line() -> None:
    # The IDNA codec raises UnicodeError (not OSError) for an empty label.
    settings = settings_for(587, smtp_host="a..example", smtp_security=Security.STARTTLS)
    with pytest.raises(SmtpConnectionError) as raised:
        run(connect_and_ehlo(settings))
    assert str(raised.value) == (
        "a..example:587: 'a..example' is not a valid host name; check MAILER_SMTP_HOST"
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("10.0.0.1", False),
        ("mail.example.nl", False),
        ("localhost.example.nl", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
