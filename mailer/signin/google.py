"""Signing in to Google Workspace / Gmail for SMTP with XOAUTH2 (scope `https://mail.google.com/`).

`mailer login` runs the installed-app flow of google-auth-oauthlib: the browser shows Google's
consent page and sends the answer to a one-shot web server on this computer (loopback redirect);
later runs refresh the access token with the stored refresh token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import google.auth.exceptions
import requests
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow, WSGITimeoutError
from oauthlib.oauth2 import OAuth2Error

from mailer.config import Settings
from mailer.errors import ConfigError, SignInFailed, SignInRequired
from mailer.i18n import _, ngettext
from mailer.signin.token_cache import cache_file_for

__all__ = [
    "DEFAULT_AUTH_URI",
    "DEFAULT_TOKEN_URI",
    "SCOPES",
    "access_token",
    "browser_done",
    "endpoints",
    "sign_in",
    "sign_out",
]

SCOPES = ["https://mail.google.com/"]
DEFAULT_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - an address
BROWSER_WAIT_SECONDS = 300

_lock = threading.Lock()  # the connections of one run ask at once; one refresh is enough


def browser_done() -> str:
    """The page the browser ends on after Google's consent page, in the staff's language
    (worded at sign-in, not at import, so the language chosen for the command is used)."""
    return _("Signing in to Google worked. You can close this window and continue in mailer.")


def endpoints(settings: Settings) -> tuple[str, str]:
    """Google's consent page and token endpoint, or the same paths under
    `smtp_oauth_authority` (tests)."""
    base = settings.smtp_oauth_authority.rstrip("/")
    if not base:
        return DEFAULT_AUTH_URI, DEFAULT_TOKEN_URI
    return f"{base}/o/oauth2/auth", f"{base}/token"


def _client_secret(settings: Settings) -> str:
    secret = settings.smtp_oauth_client_secret.get_secret_value()
    if not secret:
        raise ConfigError(
            _(
                "Google sign-in needs the desktop app's client secret; set "
                "MAILER_SMTP_OAUTH_CLIENT_SECRET in the environment or in the workspace's .env"
            )
        )
    return secret


def _load(settings: Settings) -> Credentials | None:
    text = cache_file_for(settings).read()
    if text is None:
        return None
    try:
        stored: dict[str, Any] = json.loads(text)
        expiry = stored.get("expiry")
        return Credentials(  # type: ignore[no-untyped-call]
            token=stored.get("token"),
            refresh_token=stored["refresh_token"],
            token_uri=endpoints(settings)[1],
            client_id=settings.smtp_oauth_client_id,
            client_secret=_client_secret(settings),
            scopes=SCOPES,
            # google-auth compares expiry with a naive UTC datetime
            expiry=datetime.fromisoformat(expiry).astimezone(UTC).replace(tzinfo=None)
            if expiry
            else None,
        )
    except (ValueError, KeyError, TypeError):
        return None  # a damaged cache is the same as none: sign in again


def _save(settings: Settings, credentials: Credentials) -> None:
    # The client secret comes from the environment each time; the cache keeps tokens only.
    stored = {
        "token": credentials.token,
        "refresh_token": credentials.refresh_token,
        "expiry": credentials.expiry.replace(tzinfo=UTC).isoformat()
        if credentials.expiry
        else None,
    }
    cache_file_for(settings).write(json.dumps(stored, indent=2))


def access_token(settings: Settings) -> str:
    """A valid access token from the cache, refreshed when needed; `SignInRequired` when only
    a new `mailer login` can help."""
    with _lock:
        credentials = _load(settings)
        if credentials is None or not credentials.refresh_token:
            raise SignInRequired(
                _("not signed in to Google as {user}; run `mailer login`").format(
                    user=settings.smtp_username
                )
            )
        if credentials.valid:
            return str(credentials.token)
        try:
            credentials.refresh(Request())  # type: ignore[no-untyped-call]
        except google.auth.exceptions.RefreshError as error:
            raise SignInRequired(
                _(
                    "the Google sign-in of {user} has expired or was revoked ({reason}); "
                    "run `mailer login`"
                ).format(user=settings.smtp_username, reason=_first_line(error))
            ) from None
        except google.auth.exceptions.TransportError as error:
            raise _unreachable(endpoints(settings)[1], error) from None
        _save(settings, credentials)
        return str(credentials.token)


def _unreachable(token_uri: str, error: Exception) -> SignInFailed:
    return SignInFailed(
        _(
            "{address}: cannot reach Google's sign-in service ({kind}); check the network "
            "connection"
        ).format(address=token_uri, kind=error.__class__.__name__)
    )


def _first_line(error: Exception) -> str:
    text = str(error.args[0]) if error.args else error.__class__.__name__
    return " ".join(text.split())[:200]


class _Flow(InstalledAppFlow):  # type: ignore[misc]
    """The installed-app flow, telling the caller the consent page's address as soon as it is
    known (the library would only print it)."""

    on_url: Callable[[str], None] | None = None

    def authorization_url(self, **kwargs: Any) -> tuple[str, str]:
        url, state = super().authorization_url(**kwargs)
        if self.on_url is not None:
            self.on_url(str(url))
        return str(url), str(state)


def sign_in(settings: Settings, show: Callable[[str], None], *, open_browser: bool = True) -> str:
    """Open Google's consent page (and `show` its address, should no browser open), wait for
    the answer on 127.0.0.1, store the tokens; return the mailbox signed in for."""
    auth_uri, token_uri = endpoints(settings)
    config = {
        "installed": {
            "client_id": settings.smtp_oauth_client_id,
            "client_secret": _client_secret(settings),
            "auth_uri": auth_uri,
            "token_uri": token_uri,
            "redirect_uris": ["http://127.0.0.1"],
        }
    }
    flow = _Flow.from_client_config(config, scopes=SCOPES)
    flow.on_url = show
    try:
        credentials = flow.run_local_server(
            host="127.0.0.1",
            port=0,  # any free port: Google accepts any port on a loopback redirect
            open_browser=open_browser,
            authorization_prompt_message=None,  # `show` says it, in the caller's words
            success_message=browser_done(),
            timeout_seconds=BROWSER_WAIT_SECONDS,
            prompt="consent",  # a refresh token each time, also after `mailer logout`
            login_hint=settings.smtp_username or None,
        )
    except WSGITimeoutError:
        minutes = BROWSER_WAIT_SECONDS // 60
        raise SignInFailed(
            ngettext(
                "no answer from the browser within {minutes} minute; run `mailer login` again",
                "no answer from the browser within {minutes} minutes; run `mailer login` again",
                minutes,
            ).format(minutes=minutes)
        ) from None
    except requests.RequestException as error:
        raise _unreachable(token_uri, error) from None
    # oauthlib: access denied, a wrong state or code; Warning: other scopes than asked for
    except (OAuth2Error, Warning, ValueError) as error:
        raise SignInFailed(
            _("Google sign-in was not completed ({reason}); run `mailer login` again").format(
                reason=_first_line(error)
            )
        ) from None
    if not credentials.refresh_token:
        raise SignInFailed(
            _(
                "Google gave no refresh token; remove the app's access in the Google account and "
                "run `mailer login` again"
            )
        )
    with _lock:
        _save(settings, credentials)
    return settings.smtp_username


def sign_out(settings: Settings) -> bool:
    with _lock:
        return cache_file_for(settings).remove()
