"""XOAUTH2 over SMTP against a real aiosmtpd server on 127.0.0.1 that behaves like Exchange
Online (STARTTLS, tokens only, `550 5.7.30` for passwords), with tokens from the local sign-in
service: sending, the refusals and what they tell the user, and `mailer check --smtp`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from mailer.config import Security, Settings
from mailer.errors import ConfigError
from mailer.sending.smtp_client import SmtpLoginError, check_security, connect
from mailer.signin import sign_in
from mailer.workspace import Workspace
from tests.oauth_server import (
    APP_SECRET,
    MAILBOX,
    OAuthService,
    google_settings,
    microsoft_env,
    microsoft_settings,
)
from tests.smtp_servers import (
    PASSWORD,
    Certificates,
    RecordingHandler,
    XOAuth2Handler,
    approved_outbox,
    authenticator,
    smtp_server,
    xoauth2_server,
)

Run = Callable[..., tuple[int, str, str]]


def smtp_values(server: Any, certificates: Certificates) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "smtp_security": Security.STARTTLS,
        "smtp_ca_file": str(certificates.ca_file),
        "smtp_timeout": 5,
    }


def point_workspace_at(
    monkeypatch: pytest.MonkeyPatch,
    service: OAuthService,
    server: Any,
    certificates: Certificates,
    folder: Path,
) -> None:
    """Set the workspace's variables: sign in to `service` as Microsoft 365 (token cache in
    `folder`), send through `server` with STARTTLS."""
    env = microsoft_env(
        service,
        folder / "token.json",
        MAILER_SMTP_HOST="127.0.0.1",
        MAILER_SMTP_PORT=str(server.port),
        MAILER_SMTP_SECURITY="starttls",
        MAILER_SMTP_CA_FILE=str(certificates.ca_file),
        MAILER_SMTP_TIMEOUT="5",
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)


async def log_in_and_quit(settings: Settings) -> None:
    client = await connect(settings)
    await client.quit()


def test_mailer_send_logs_in_with_the_token_and_delivers(
    service: OAuthService,
    certificates: Certificates,
    workspace: Workspace,
    run_cli: Run,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    handler = XOAuth2Handler(tokens=service.book)
    ids = approved_outbox(workspace, 2)
    with xoauth2_server(certificates, handler) as server:
        point_workspace_at(monkeypatch, service, server, certificates, tmp_path)
        assert run_cli("login")[0] == 0
        code, out, err = run_cli("send", "--yes")
    assert code == 0, err
    assert len(handler.arrivals) == len(ids)
    assert handler.logins and all(login == (MAILBOX, "at-1", True) for login in handler.logins)
    assert "at-1" not in out + err


def test_unattended_sender_logs_in_with_client_credentials(
    service: OAuthService, certificates: Certificates, tmp_path: Path
) -> None:
    handler = XOAuth2Handler(tokens=service.book)
    with xoauth2_server(certificates, handler) as server:
        settings = microsoft_settings(
            service,
            tmp_path / "token.json",
            smtp_oauth_client_secret=SecretStr(APP_SECRET),
            **smtp_values(server, certificates),
        )
        asyncio.run(log_in_and_quit(settings))
    assert handler.logins == [(MAILBOX, "at-1", True)]


def test_an_expired_token_gets_microsofts_reply_and_the_way_out(
    service: OAuthService, certificates: Certificates, tmp_path: Path
) -> None:
    handler = XOAuth2Handler(tokens=service.book)
    with xoauth2_server(certificates, handler) as server:
        settings = microsoft_settings(
            service, tmp_path / "token.json", **smtp_values(server, certificates)
        )
        sign_in(settings, lambda prompt: None)
        service.book.expire("at-1")  # Exchange no longer takes it; the cache still thinks so
        with pytest.raises(SmtpLoginError) as caught:
            asyncio.run(log_in_and_quit(settings))
    text = str(caught.value)
    assert "535 5.7.3 Authentication unsuccessful" in text
    assert text.endswith("voer `mailer login` uit") and "\n" not in text
    assert "at-1" not in text
    assert handler.logins == [(MAILBOX, "at-1", False)]


def test_a_refused_token_in_googles_way_is_read_to_the_end(
    service: OAuthService, certificates: Certificates, tmp_path: Path
) -> None:
    # Gmail answers a bad token with a 334 JSON challenge first, then 535 after an empty line.
    cache = tmp_path / "google.json"
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()  # data, not an assertion
    cache.write_text(json.dumps({"token": "gt-unknown", "refresh_token": "rt-x", "expiry": later}))
    handler = XOAuth2Handler(tokens=service.book, google_style=True)
    with xoauth2_server(certificates, handler) as server:
        settings = google_settings(service, cache, **smtp_values(server, certificates))
        with pytest.raises(SmtpLoginError) as caught:
            asyncio.run(log_in_and_quit(settings))
    assert "535 5.7.8" in str(caught.value) and "mailer login" in str(caught.value)


def test_a_password_refused_as_basic_auth_says_to_switch_to_oauth(
    certificates: Certificates,
) -> None:
    with xoauth2_server(certificates, XOAuth2Handler()) as server:
        settings = Settings(
            smtp_username=MAILBOX,
            smtp_password=SecretStr(PASSWORD),
            **smtp_values(server, certificates),
        )
        with pytest.raises(SmtpLoginError) as caught:
            asyncio.run(log_in_and_quit(settings))
    text = str(caught.value)
    assert "550 5.7.30 Basic authentication is not supported for Client Submission" in text
    assert "accepteert geen wachtwoorden meer" in text
    assert 'auth = "oauth2"' in text and text.endswith("voer `mailer login` uit")
    assert PASSWORD not in text and "\n" not in text


def test_a_server_without_xoauth2_is_named(
    service: OAuthService, certificates: Certificates, tmp_path: Path
) -> None:
    with smtp_server(
        RecordingHandler(),
        tls_context=certificates.server_context(),
        require_starttls=True,
        authenticator=authenticator,
    ) as server:
        settings = microsoft_settings(
            service, tmp_path / "token.json", **smtp_values(server, certificates)
        )
        with pytest.raises(SmtpLoginError, match=r"biedt geen OAuth-aanmelding \(AUTH XOAUTH2\)"):
            asyncio.run(log_in_and_quit(settings))
    assert service.calls == []  # refused before asking for a token


def test_a_token_is_never_sent_unencrypted_to_another_computer(tmp_path: Path) -> None:
    settings = Settings(
        smtp_provider="microsoft365",
        smtp_username=MAILBOX,
        smtp_oauth_client_id="app",
        smtp_host="smtp.office365.com",
        smtp_security=Security.NONE,
        smtp_allow_plaintext_remote=True,  # allowed for a password, never for a token
    )
    with pytest.raises(ConfigError, match="zou het aanmeldtoken onversleuteld"):
        check_security(settings)


def test_check_smtp_logs_in_and_says_how(
    service: OAuthService,
    certificates: Certificates,
    workspace: Workspace,
    run_cli: Run,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    handler = XOAuth2Handler(tokens=service.book)
    with xoauth2_server(certificates, handler) as server:
        point_workspace_at(monkeypatch, service, server, certificates, tmp_path)
        before_login = run_cli("check", "--smtp")
        run_cli("login")
        after_login = run_cli("check", "--smtp")
        # The same mailbox with a password: Exchange refuses it as Basic authentication.
        monkeypatch.setenv("MAILER_SMTP_AUTH", "password")
        monkeypatch.setenv("MAILER_SMTP_PASSWORD", PASSWORD)
        with_password = run_cli("check", "--smtp")
    assert before_login[0] == 1
    assert before_login[2].strip().splitlines() == [
        f"fout: niet ingelogd bij Microsoft 365 als {MAILBOX}; voer `mailer login` uit"
    ]
    code, out, err = after_login
    assert (code, err) == (0, "")
    method = f"OAuth 2.0-token (XOAUTH2, Microsoft 365, ingelogde gebruiker) als {MAILBOX}"
    assert f"aanmelding {method}." in out
    assert f"en ingelogd; er is niets verstuurd. Aanmelding: {method}." in out
    assert handler.arrivals == [] and handler.mail_commands == 0
    code, out, err = with_password
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "550 5.7.30" in err and "voer `mailer login` uit" in err and PASSWORD not in out + err
