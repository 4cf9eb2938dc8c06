"""Signing in to Microsoft 365 (Entra ID) with MSAL, for SMTP AUTH with XOAUTH2.

Two ways, chosen by the settings: a person signs in once with the device-code flow (`mailer
login`, delegated permission `SMTP.Send`) and later runs refresh silently from the token cache;
or an unattended sender uses the client-credentials flow with a secret or certificate from the
environment (application permission, `https://outlook.office365.com/.default`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msal
import requests

from mailer.config import Settings
from mailer.errors import ConfigError, SignInFailed, SignInRequired
from mailer.i18n import _
from mailer.signin.token_cache import TokenCacheFile, cache_file_for

__all__ = [
    "APP_SCOPES",
    "DEFAULT_INSTANCE",
    "DELEGATED_SCOPES",
    "DeviceCode",
    "access_token",
    "authority_url",
    "is_unattended",
    "sign_in",
    "sign_out",
]

DEFAULT_INSTANCE = "https://login.microsoftonline.com"
# MSAL adds openid, profile and offline_access (the refresh token) itself and refuses them here.
DELEGATED_SCOPES = ["https://outlook.office.com/SMTP.Send"]
APP_SCOPES = ["https://outlook.office365.com/.default"]


@dataclass(frozen=True)
class DeviceCode:
    """What the person at the keyboard needs to sign in on another device or in a browser."""

    user_code: str
    verification_uri: str
    expires_in_minutes: int


def authority_url(settings: Settings) -> str:
    instance = (settings.smtp_oauth_authority or DEFAULT_INSTANCE).rstrip("/")
    return f"{instance}/{settings.smtp_oauth_tenant_id or 'organizations'}"


def is_unattended(settings: Settings) -> bool:
    """A client secret or certificate makes this an app-only sender (client credentials)."""
    return bool(
        settings.smtp_oauth_client_secret.get_secret_value() or settings.smtp_oauth_certificate_file
    )


def _reason(result: Mapping[str, Any]) -> str:
    """`invalid_grant (AADSTS70043: The refresh token has expired ...)`, on one line: Microsoft's
    descriptions continue with trace and correlation IDs on further lines."""
    error = str(result.get("error") or "no token")
    description = str(result.get("error_description") or "").strip().splitlines()
    return f"{error} ({description[0].strip()})" if description else error


def _client_credential(settings: Settings) -> str | dict[str, Any]:
    if settings.smtp_oauth_certificate_file:
        path = Path(settings.smtp_oauth_certificate_file).expanduser()
        if not path.is_file():
            raise ConfigError(
                _(
                    "smtp_oauth_certificate_file {path}: no such file; check "
                    "MAILER_SMTP_OAUTH_CERTIFICATE_FILE (a .pfx with the private key)"
                ).format(path=path)
            )
        return {
            "private_key_pfx_path": str(path),
            "passphrase": settings.smtp_oauth_certificate_password.get_secret_value() or None,
        }
    return settings.smtp_oauth_client_secret.get_secret_value()


class _Client:
    """One MSAL application and its token cache, kept for the life of the process: building an
    application fetches the tenant's OpenID configuration, and each connection of a send run
    asks for a token."""

    def __init__(self, settings: Settings, cache_file: TokenCacheFile | None) -> None:
        self.cache_file = cache_file
        self.cache = msal.SerializableTokenCache()
        self.loaded: tuple[int, int] | None = None
        common: dict[str, Any] = {
            "client_id": settings.smtp_oauth_client_id,
            "authority": authority_url(settings),
            "token_cache": self.cache,
            # A custom authority (tests, sovereign clouds) is used as written; the default one
            # is Microsoft's own and needs no discovery either.
            "instance_discovery": False,
            "timeout": settings.smtp_timeout,
        }
        self.app: msal.ClientApplication
        if cache_file is None:
            self.app = msal.ConfidentialClientApplication(
                client_credential=_client_credential(settings), **common
            )
        else:
            self.app = msal.PublicClientApplication(**common)

    def reload(self) -> None:
        """Read the cache file again if another process (or `mailer login`) changed it."""
        if self.cache_file is None:
            return
        signature = self.cache_file.signature()
        if signature == self.loaded:
            return
        text = self.cache_file.read()
        self.cache.deserialize(text or "{}")
        self.loaded = signature

    def save(self) -> None:
        if self.cache_file is not None and self.cache.has_state_changed:
            self.cache_file.write(self.cache.serialize())
            self.cache.has_state_changed = False
            self.loaded = self.cache_file.signature()


_lock = threading.Lock()  # the connections of one run ask at once; one refresh is enough
_clients: dict[tuple[str, ...], _Client] = {}


def _client(settings: Settings) -> _Client:
    unattended = is_unattended(settings)
    cache_file = None if unattended else cache_file_for(settings)
    key = (
        authority_url(settings),
        settings.smtp_oauth_client_id,
        str(cache_file.path) if cache_file else "app-only",
        settings.smtp_oauth_certificate_file,
        # A changed secret must not reuse an application built with the old one; the hash
        # keeps the secret itself out of this key.
        str(hash(settings.smtp_oauth_client_secret.get_secret_value())),
    )
    found = _clients.get(key)
    if found is None:
        try:
            found = _Client(settings, cache_file)
        except ValueError as error:  # MSAL: the tenant's OpenID configuration is not there
            raise SignInFailed(
                _(
                    "{authority}: the sign-in service does not know this tenant ({reason}); "
                    "check MAILER_SMTP_OAUTH_TENANT_ID"
                ).format(
                    authority=authority_url(settings), reason=" ".join(str(error).split())[:200]
                )
            ) from None
        _clients[key] = found
    return found


def _forget(settings: Settings) -> None:
    cache_file = cache_file_for(settings)
    for key in [key for key in _clients if key[2] == str(cache_file.path)]:
        del _clients[key]


def _unreachable(settings: Settings, error: requests.RequestException) -> SignInFailed:
    return SignInFailed(
        _(
            "{authority}: cannot reach Microsoft's sign-in service ({kind}); check the network "
            "connection and MAILER_SMTP_OAUTH_AUTHORITY"
        ).format(authority=authority_url(settings), kind=error.__class__.__name__)
    )


def access_token(settings: Settings) -> str:
    """A valid access token for SMTP: from the cache, refreshed when needed, without asking
    anyone; `SignInRequired` when only a new `mailer login` can help."""
    with _lock:
        try:
            client = _client(settings)
            if client.cache_file is None:
                result = client.app.acquire_token_for_client(scopes=APP_SCOPES)
                if "access_token" not in result:
                    raise SignInFailed(
                        _(
                            "{authority}: the app's sign-in was refused ({reason}); check "
                            "MAILER_SMTP_OAUTH_CLIENT_ID and the client secret or certificate"
                        ).format(authority=authority_url(settings), reason=_reason(result))
                    )
                return str(result["access_token"])
            client.reload()
            accounts = client.app.get_accounts(username=settings.smtp_username or None)
            if not accounts:
                raise SignInRequired(
                    _("not signed in to Microsoft 365 as {user}; run `mailer login`").format(
                        user=settings.smtp_username
                    )
                )
            result = client.app.acquire_token_silent_with_error(DELEGATED_SCOPES, accounts[0])
            client.save()  # a refresh rotates the refresh token: keep the new one
        except requests.RequestException as error:
            raise _unreachable(settings, error) from None
        if result and "access_token" in result:
            return str(result["access_token"])
        reason = _reason(result) if result else _("no token in the cache")
        raise SignInRequired(
            _(
                "the Microsoft 365 sign-in of {user} has expired or was revoked ({reason}); "
                "run `mailer login`"
            ).format(user=settings.smtp_username, reason=reason)
        )


def sign_in(settings: Settings, show: Callable[[DeviceCode], None]) -> str:
    """The device-code flow: `show` tells the person where to go and which code to type; this
    waits until they signed in (or the code expired) and returns the account's name.

    An unattended sender has nothing to sign in: its first token is fetched to prove that the
    secret or certificate works."""
    if is_unattended(settings):
        access_token(settings)
        return settings.smtp_username
    with _lock:
        try:
            return _device_code_sign_in(settings, _client(settings), show)
        except requests.RequestException as error:
            raise _unreachable(settings, error) from None


def _device_code_sign_in(
    settings: Settings, client: _Client, show: Callable[[DeviceCode], None]
) -> str:
    client.reload()
    app: Any = client.app
    flow = app.initiate_device_flow(scopes=DELEGATED_SCOPES)
    if "user_code" not in flow:
        raise SignInFailed(
            _(
                "{authority}: sign-in could not start ({reason}); check "
                "MAILER_SMTP_OAUTH_CLIENT_ID, MAILER_SMTP_OAUTH_TENANT_ID and that the app "
                "allows public client flows"
            ).format(authority=authority_url(settings), reason=_reason(flow))
        )
    show(
        DeviceCode(
            user_code=str(flow["user_code"]),
            verification_uri=str(flow.get("verification_uri") or flow.get("verification_url")),
            expires_in_minutes=max(1, int(flow.get("expires_in", 900)) // 60),
        )
    )
    result = app.acquire_token_by_device_flow(flow)
    if "access_token" not in result:
        raise SignInFailed(
            _("sign-in was not completed ({reason}); run `mailer login` again").format(
                reason=_reason(result)
            )
        )
    signed_in = str((result.get("id_token_claims") or {}).get("preferred_username") or "")
    if settings.smtp_username and signed_in.lower() != settings.smtp_username.lower():
        _forget(settings)  # its in-memory cache holds the wrong account; nothing was written
        if signed_in:
            wrong = _(
                "you signed in as {account}, but the mailbox is {mailbox} "
                "(MAILER_SMTP_USERNAME); run `mailer login` again and sign in as that mailbox"
            )
        else:
            wrong = _(
                "you signed in with an unknown account, but the mailbox is {mailbox} "
                "(MAILER_SMTP_USERNAME); run `mailer login` again and sign in as that mailbox"
            )
        raise SignInFailed(wrong.format(account=signed_in, mailbox=settings.smtp_username))
    client.save()
    return signed_in


def sign_out(settings: Settings) -> bool:
    """Forget the signed-in account: remove its token cache. Whether there was one."""
    with _lock:
        _forget(settings)
        return cache_file_for(settings).remove()
