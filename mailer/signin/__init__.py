"""OAuth 2.0 sign-in for SMTP (XOAUTH2): Microsoft 365 through MSAL, Google through
google-auth-oauthlib, with the tokens in a 0600 cache file of the user.

`mailer login` / `mailer logout` call `sign_in` / `sign_out`; `mailer.sending.smtp_client` calls
`access_token` for each connection. Nothing here imports a provider's library until it is used.
"""

from __future__ import annotations

from mailer.signin.accounts import (
    SignInPrompt,
    access_token,
    check_oauth_settings,
    describe_login,
    sign_in,
    sign_out,
)

__all__ = [
    "SignInPrompt",
    "access_token",
    "check_oauth_settings",
    "describe_login",
    "sign_in",
    "sign_out",
]
