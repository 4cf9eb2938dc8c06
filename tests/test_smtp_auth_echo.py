"""A mail server that repeats the client's AUTH exchange in its refusal: the base64 login (and
the password in it) must appear in no output and no exception text.

The server is a real aiosmtpd on 127.0.0.1 whose handler answers AUTH PLAIN and AUTH LOGIN by
echoing what the client sent, as some badly configured servers and proxies do.
"""

from __future__ import annotations

import base64
from asyncio import run
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from pydantic import SecretStr

from mailer.config import Security, Settings
from mailer.sending.smtp_client import SmtpLoginError, connect, scrub
from mailer.workspace import Workspace
from tests.smtp_servers import RecordingHandler, approved_outbox, smtp_env, smtp_server

USER = "planning@kinderopvang.example"
PASSWORD = "Zomer2026!geheim"
Run = Callable[..., tuple[int, str, str]]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# Every form in which the login travels: none may be printed.
LOGIN_FORMS = [
    PASSWORD,
    _b64(PASSWORD.encode()),
    _b64(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()),
]


class EchoingHandler(RecordingHandler):
    """Refuses every login with a reply that repeats the client's base64 data."""

    async def auth_PLAIN(self, server: Any, args: list[str]) -> AuthResult:  # noqa: N802
        blob = args[1] if len(args) > 1 else ""
        return AuthResult(
            success=False, handled=False, message=f"535 5.7.8 Bad login AUTH PLAIN {blob}"
        )

    async def auth_LOGIN(self, server: Any, args: list[str]) -> AuthResult:  # noqa: N802
        user = args[1] if len(args) > 1 else ""
        password = await server.challenge_auth("Password:")
        echoed = _b64(password) if isinstance(password, bytes) else ""
        return AuthResult(
            success=False,
            handled=False,
            message=f"535 5.7.8 Bad login: you sent {user} then {echoed} (see log {echoed[:11]})",
        )


@pytest.fixture(params=["PLAIN", "LOGIN"])
def echoing_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    # Offer one mechanism only, so that the client uses it.
    other = "LOGIN" if request.param == "PLAIN" else "PLAIN"
    with smtp_server(
        EchoingHandler(), auth_require_tls=False, auth_exclude_mechanism=[other]
    ) as controller:
        yield controller


def _holds_the_login(text: str) -> list[str]:
    return [form for form in LOGIN_FORMS if form in text]


def test_login_error_line_holds_no_echoed_login(echoing_server: Any) -> None:
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=echoing_server.port,
        smtp_timeout=5,
        smtp_security=Security.NONE,
        smtp_username=USER,
        smtp_password=SecretStr(PASSWORD),
    )
    with pytest.raises(SmtpLoginError) as caught:
        run(connect(settings))
    text = str(caught.value)
    assert "535 5.7.8 Bad login" in text
    assert "\n" not in text
    assert _holds_the_login(text) == []
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_check_and_send_print_no_echoed_login(
    echoing_server: Any,
    workspace: Workspace,
    run_cli: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment = smtp_env(echoing_server, MAILER_SMTP_USERNAME=USER, MAILER_SMTP_PASSWORD=PASSWORD)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    approved_outbox(workspace, 1)
    code, out, err = run_cli("check", "--smtp")
    assert code != 0
    assert "535" in out + err
    assert _holds_the_login(out + err) == []
    code, out, err = run_cli("send", "--yes")
    assert code != 0
    assert "535" in out + err
    assert _holds_the_login(out + err) == []


def test_scrub_keeps_ordinary_words_and_codes() -> None:
    settings = Settings(smtp_username=USER, smtp_password=SecretStr(PASSWORD))
    reply = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled"
    assert scrub(reply, settings) == reply
    token = _b64(b"user=" + USER.encode() + b"\x01auth=Bearer eyJ0eXAiOiJKV1Qi\x01\x01")
    assert scrub(f"535 bad token {token}", settings) == "535 bad token ***"
