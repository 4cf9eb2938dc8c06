"""Signing in to Microsoft 365 with MSAL against a local Entra ID-like service on 127.0.0.1:
device code, silent refresh, a revoked sign-in, client credentials, and the private cache file."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from mailer.errors import ConfigError, SignInFailed, SignInRequired
from mailer.signin import SignInPrompt, access_token, sign_in, sign_out
from mailer.workspace import Workspace
from tests.oauth_server import (
    APP_SECRET,
    DEVICE_CODE_GRANT,
    MAILBOX,
    OAuthService,
    microsoft_env,
    microsoft_settings,
    oauth_service,
    trust_local_service,
)
from tests.smtp_servers import make_certificates

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OAuthService]:
    certificates = make_certificates(tmp_path)
    trust_local_service(monkeypatch, certificates)
    with oauth_service(certificates) as running:
        yield running


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_sign_in_waits_for_the_device_code_and_keeps_the_tokens_private(
    service: OAuthService, tmp_path: Path
) -> None:
    cache = tmp_path / "private" / "token.json"
    settings = microsoft_settings(service, cache)
    prompts: list[SignInPrompt] = []
    account = sign_in(settings, prompts.append)
    assert account == MAILBOX
    assert [(p.code, p.url) for p in prompts] == [("KDV-4242", "https://microsoft.com/devicelogin")]
    # MSAL polled once more after the service said authorization_pending.
    polls = service.grants(DEVICE_CODE_GRANT)
    assert len(polls) == 2 and polls[0].form["device_code"] == "device-code-1"
    scope = service.calls[1].form["scope"].split()  # the device-authorization request
    assert "https://outlook.office.com/SMTP.Send" in scope and "offline_access" in scope
    assert mode(cache) == 0o600 and mode(cache.parent) == 0o700
    assert "rt-1" in cache.read_text(encoding="utf-8")
    # The access token is still valid: no further request to the service.
    calls_before = len(service.calls)
    assert access_token(settings) == "at-1"
    assert len(service.calls) == calls_before


def test_a_later_run_refreshes_from_the_cache_file_alone(
    service: OAuthService, tmp_path: Path
) -> None:
    service.access_lifetime = 60  # under MSAL's five-minute margin: counts as expired
    first = tmp_path / "first.json"
    sign_in(microsoft_settings(service, first), lambda prompt: None)
    # Another process (a new `mailer send`) knows nothing but the file.
    later = tmp_path / "later.json"
    shutil.copy(first, later)
    settings = microsoft_settings(service, later)
    assert access_token(settings) == "at-2"
    refreshes = service.grants("refresh_token")
    assert [call.form["refresh_token"] for call in refreshes] == ["rt-1"]
    assert "https://outlook.office.com/SMTP.Send" in refreshes[0].form["scope"].split()
    # The new refresh token replaced the old one in the file, still private.
    text = later.read_text(encoding="utf-8")
    assert "rt-2" in text and mode(later) == 0o600


def test_a_revoked_sign_in_says_to_run_mailer_login(
    service: OAuthService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")  # the English wording
    service.access_lifetime = 60
    settings = microsoft_settings(service, tmp_path / "token.json")
    sign_in(settings, lambda prompt: None)
    service.revoke_all()
    with pytest.raises(SignInRequired) as caught:
        access_token(settings)
    text = str(caught.value)
    assert "\n" not in text and "\r" not in text
    assert "expired or was revoked" in text and "invalid_grant" in text
    assert text.endswith("run `mailer login`")
    assert "rt-1" not in text


def test_without_a_sign_in_there_is_no_token(service: OAuthService, tmp_path: Path) -> None:
    with pytest.raises(
        SignInRequired, match=r"^niet ingelogd bij Microsoft 365 als .*; voer `mailer login` uit$"
    ):
        access_token(microsoft_settings(service, tmp_path / "none.json"))
    assert service.grants("refresh_token") == []


def test_signing_in_as_another_account_keeps_nothing(service: OAuthService, tmp_path: Path) -> None:
    service.signed_in_as = "someone.else@speeldoos.example"
    cache = tmp_path / "token.json"
    with pytest.raises(
        SignInFailed, match=r"^je bent ingelogd als someone\.else@speeldoos\.example, maar"
    ):
        sign_in(microsoft_settings(service, cache), lambda prompt: None)
    assert not cache.exists()


def test_logout_removes_the_cache(service: OAuthService, tmp_path: Path) -> None:
    cache = tmp_path / "token.json"
    settings = microsoft_settings(service, cache)
    sign_in(settings, lambda prompt: None)
    assert sign_out(settings) is True and not cache.exists()
    assert sign_out(settings) is False
    with pytest.raises(SignInRequired):
        access_token(settings)


def test_unattended_sender_uses_client_credentials(service: OAuthService, tmp_path: Path) -> None:
    cache = tmp_path / "token.json"
    settings = microsoft_settings(service, cache, smtp_oauth_client_secret=SecretStr(APP_SECRET))
    assert access_token(settings) == "at-1"
    assert access_token(settings) == "at-1"  # MSAL keeps the app's token in memory
    grants = service.grants("client_credentials")
    assert len(grants) == 1
    assert grants[0].form["scope"] == "https://outlook.office365.com/.default"
    assert not cache.exists()  # nothing to keep: the secret is the sign-in


def test_a_wrong_client_secret_is_one_line_without_the_secret(
    service: OAuthService, tmp_path: Path
) -> None:
    wrong = "not-the-app-secret"
    settings = microsoft_settings(
        service, tmp_path / "token.json", smtp_oauth_client_secret=SecretStr(wrong)
    )
    with pytest.raises(SignInFailed) as caught:
        access_token(settings)
    text = str(caught.value)
    assert "invalid_client" in text and "AADSTS7000215" in text
    assert wrong not in text and "\n" not in text


def test_an_unknown_tenant_is_named(service: OAuthService, tmp_path: Path) -> None:
    settings = microsoft_settings(
        service, tmp_path / "token.json", smtp_oauth_tenant_id="no-such-tenant"
    )
    with pytest.raises(SignInFailed, match="MAILER_SMTP_OAUTH_TENANT_ID"):
        access_token(settings)


def test_login_and_logout_commands_in_dutch(
    service: OAuthService,
    workspace: Workspace,
    run_cli: Run,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cli-token.json"
    for name, value in microsoft_env(service, cache).items():
        monkeypatch.setenv(name, value)
    code, out, err = run_cli("login")
    assert (code, err) == (0, "")
    assert "open https://microsoft.com/devicelogin in een browser" in out
    assert "voer deze code in: KDV-4242" in out
    assert f"Ingelogd als {MAILBOX}" in out and str(cache) in out
    assert mode(cache) == 0o600
    assert "rt-1" not in out and "at-1" not in out
    assert run_cli("logout")[:2] == (
        0,
        "Uitgelogd: de bewaarde aanmelding is verwijderd. Log opnieuw in met `mailer login`.\n",
    )
    assert not cache.exists()
    assert "geen bewaarde aanmelding" in run_cli("logout")[1]


def test_login_with_password_settings_says_what_to_change(
    workspace: Workspace, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_SMTP_AUTH", "password")
    code, _, err = run_cli("login")
    assert code == 1
    assert err.strip().splitlines() == [
        'fout: deze werkmap logt in met een wachtwoord; zet auth = "oauth2" onder [smtp] '
        "(MAILER_SMTP_AUTH) om in te loggen met Microsoft 365 of Google"
    ]


def test_oauth_without_provider_is_a_config_error(tmp_path: Path) -> None:
    from mailer.config import Settings
    from mailer.signin import check_oauth_settings

    with pytest.raises(ConfigError, match="MAILER_SMTP_PROVIDER"):
        check_oauth_settings(Settings(smtp_auth="oauth2", smtp_username=MAILBOX))
