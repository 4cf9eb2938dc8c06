"""Signing in to Google against a local Google-like sign-in service on 127.0.0.1: the
installed-app flow with its loopback redirect (a test plays the browser), refreshing the access
token, a revoked refresh token, and the private cache file."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from mailer.errors import ConfigError, SignInRequired
from mailer.signin import SignInPrompt, access_token, sign_in
from mailer.signin.google import browser_done
from tests.oauth_server import (
    GOOGLE_CLIENT_ID,
    MAILBOX,
    OAuthService,
    google_settings,
)
from tests.smtp_servers import Certificates


class Browser:
    """Opens the consent page as a browser would, follows Google's redirect back to `mailer`'s
    one-shot server on 127.0.0.1, and keeps what that page said."""

    def __init__(self, certificates: Certificates) -> None:
        self.ca_file = str(certificates.ca_file)
        self.prompts: list[SignInPrompt] = []
        self.final_page = ""
        self.thread: threading.Thread | None = None

    def open(self, prompt: SignInPrompt) -> None:
        self.prompts.append(prompt)
        # `mailer` waits for the redirect only after showing the address: visit it meanwhile.
        self.thread = threading.Thread(target=self._visit, args=(prompt.url,))
        self.thread.start()

    def _visit(self, url: str) -> None:
        self.final_page = requests.get(url, verify=self.ca_file, timeout=10).text

    def close(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=10)


def write_cache(path: Path, token: str, refresh_token: str, expiry: str) -> None:
    path.write_text(
        json.dumps({"token": token, "refresh_token": refresh_token, "expiry": expiry}),
        encoding="utf-8",
    )


def test_browser_sign_in_keeps_a_private_refresh_token(
    service: OAuthService, certificates: Certificates, tmp_path: Path
) -> None:
    cache = tmp_path / "tokens" / "google.json"
    settings = google_settings(service, cache)
    browser = Browser(certificates)
    try:
        account = sign_in(settings, browser.open, open_browser=False)
    finally:
        browser.close()
    assert account == MAILBOX
    [prompt] = browser.prompts
    assert prompt.url.startswith(f"{service.base}/o/oauth2/auth?") and not prompt.code
    consent = next(call for call in service.calls if call.path == "/o/oauth2/auth")
    assert consent.form["client_id"] == GOOGLE_CLIENT_ID
    assert consent.form["scope"] == "https://mail.google.com/"
    assert consent.form["access_type"] == "offline" and consent.form["login_hint"] == MAILBOX
    assert consent.form["redirect_uri"].startswith("http://127.0.0.1:")
    exchange = service.grants("authorization_code")
    assert len(exchange) == 1 and exchange[0].form["code"] == "gcode-1"
    # the loopback page the browser ends on, in Dutch (the default) and with "je"
    assert browser.final_page == browser_done()
    assert "Je kunt dit venster sluiten" in browser.final_page
    stored = json.loads(cache.read_text(encoding="utf-8"))
    assert stored["refresh_token"] == "rt-1" and "client_secret" not in stored
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert access_token(settings) == "at-1"  # still valid: no refresh
    assert service.grants("refresh_token") == []


def test_an_expired_access_token_is_refreshed(service: OAuthService, tmp_path: Path) -> None:
    service.refresh_tokens["rt-google"] = MAILBOX
    cache = tmp_path / "google.json"
    write_cache(cache, "old-token", "rt-google", "2001-01-01T00:00:00+00:00")
    settings = google_settings(service, cache)
    assert access_token(settings) == "at-1"
    [refresh] = service.grants("refresh_token")
    assert refresh.form["refresh_token"] == "rt-google"
    stored = json.loads(cache.read_text(encoding="utf-8"))
    # Google keeps the refresh token: the file keeps it too, next to the new access token.
    assert (stored["token"], stored["refresh_token"]) == ("at-1", "rt-google")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600


def test_a_revoked_refresh_token_says_to_run_mailer_login(
    service: OAuthService, tmp_path: Path
) -> None:
    service.refresh_tokens["rt-google"] = MAILBOX
    service.revoke_all()
    cache = tmp_path / "google.json"
    write_cache(cache, "old-token", "rt-google", "2001-01-01T00:00:00+00:00")
    with pytest.raises(SignInRequired) as caught:
        access_token(google_settings(service, cache))
    text = str(caught.value)
    assert text.startswith(f"de aanmelding bij Google van {MAILBOX} is verlopen of ingetrokken")
    assert "invalid_grant" in text and text.endswith("voer `mailer login` uit")
    assert "\n" not in text and "rt-google" not in text


def test_google_needs_the_desktop_apps_client_secret(service: OAuthService, tmp_path: Path) -> None:
    settings = google_settings(service, tmp_path / "g.json", smtp_oauth_client_secret=SecretStr(""))
    with pytest.raises(ConfigError, match="MAILER_SMTP_OAUTH_CLIENT_SECRET"):
        sign_in(settings, lambda prompt: None, open_browser=False)
