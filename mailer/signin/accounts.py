"""One entry for the rest of `mailer`: check the OAuth settings, get a token, sign in and out.

The provider modules are imported only when used: MSAL and google-auth pull in `requests` and
friends, which a password login or `mailer send --dry-run` should not pay for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailer.config import Provider, Settings, SmtpAuth
from mailer.errors import ConfigError
from mailer.i18n import _

__all__ = [
    "SignInPrompt",
    "access_token",
    "check_oauth_settings",
    "describe_login",
    "sign_in",
    "sign_out",
]


@dataclass(frozen=True)
class SignInPrompt:
    """What the person at the keyboard must do: open `url` and, for Microsoft's device code,
    type `code` there. `minutes` is how long the code or the waiting lasts."""

    url: str
    code: str = ""
    minutes: int = 0


def check_oauth_settings(settings: Settings) -> None:
    """Refuse OAuth settings that cannot work, naming the setting to fill in."""
    if settings.smtp_auth != SmtpAuth.OAUTH2:
        return
    if settings.smtp_provider == Provider.NONE:
        raise ConfigError(
            _(
                'auth "oauth2" needs a provider to sign in with; set provider = "microsoft365" '
                'or "google" under [smtp] (MAILER_SMTP_PROVIDER)'
            )
        )
    if not settings.smtp_username:
        raise ConfigError(
            _(
                'auth "oauth2" logs in as a mailbox; set smtp username to its address '
                "(MAILER_SMTP_USERNAME)"
            )
        )
    if not settings.smtp_oauth_client_id:
        raise ConfigError(
            _(
                "signing in to {provider} needs the app's client ID; set oauth_client_id under "
                "[smtp] (MAILER_SMTP_OAUTH_CLIENT_ID)"
            ).format(provider=settings.smtp_provider.value)
        )


def access_token(settings: Settings) -> str:
    """A valid access token for `settings.smtp_username`, without asking anyone (blocking:
    it may ask the provider for a fresh one)."""
    check_oauth_settings(settings)
    if settings.smtp_provider == Provider.GOOGLE:
        from mailer.signin import google

        return google.access_token(settings)
    from mailer.signin import microsoft

    return microsoft.access_token(settings)


def sign_in(
    settings: Settings, show: Callable[[SignInPrompt], None], *, open_browser: bool = True
) -> str:
    """Sign in interactively (or, for an unattended Microsoft sender, fetch a first token) and
    keep the tokens; return the account signed in."""
    if settings.smtp_auth != SmtpAuth.OAUTH2:
        raise ConfigError(
            _(
                'this workspace logs in with a password; set auth = "oauth2" under [smtp] '
                "(MAILER_SMTP_AUTH) to sign in with Microsoft 365 or Google"
            )
        )
    check_oauth_settings(settings)
    if settings.smtp_provider == Provider.GOOGLE:
        from mailer.signin import google

        return google.sign_in(
            settings,
            lambda url: show(SignInPrompt(url, minutes=google.BROWSER_WAIT_SECONDS // 60)),
            open_browser=open_browser,
        )
    from mailer.signin import microsoft

    return microsoft.sign_in(
        settings,
        lambda device: show(
            SignInPrompt(device.verification_uri, device.user_code, device.expires_in_minutes)
        ),
    )


def sign_out(settings: Settings) -> bool:
    """Remove the stored tokens of this workspace's account; whether there were any."""
    check_oauth_settings(settings)
    if settings.smtp_provider == Provider.GOOGLE:
        from mailer.signin import google

        return google.sign_out(settings)
    from mailer.signin import microsoft

    return microsoft.sign_out(settings)


def describe_login(settings: Settings) -> str:
    """How `mailer` logs in, for `mailer check`, in the chosen language: `OAuth 2.0 token
    (XOAUTH2, Microsoft 365, signed-in user) as NAME`, `password as NAME` or `no login`."""
    user = settings.smtp_username
    if not user:
        return _("no login")
    if settings.smtp_auth == SmtpAuth.PASSWORD:
        return _("password as {user}").format(user=user)
    if settings.smtp_provider == Provider.GOOGLE:
        return _("OAuth 2.0 token (XOAUTH2, Google) as {user}").format(user=user)
    # the rule of `microsoft.is_unattended`, without importing MSAL for one line of text
    if settings.smtp_oauth_client_secret.get_secret_value() or settings.smtp_oauth_certificate_file:
        return _("OAuth 2.0 token (XOAUTH2, Microsoft 365, app-only) as {user}").format(user=user)
    return _("OAuth 2.0 token (XOAUTH2, Microsoft 365, signed-in user) as {user}").format(user=user)
