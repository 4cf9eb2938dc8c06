"""Commands that sign in to the mail provider for SMTP with OAuth 2.0: login and logout.

The steps for the person at the keyboard are worded here (in the chosen language); the work is
done by `mailer.signin`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mailer.cli.common import HomeOption, console, open_workspace
from mailer.config import Provider
from mailer.i18n import _
from mailer.signin import SignInPrompt, sign_in, sign_out
from mailer.signin.token_cache import cache_file_for

__all__ = ["register", "sign_in_steps"]


def sign_in_steps(prompt: SignInPrompt) -> str:
    """What to do: type a code at Microsoft's address, or approve in the browser."""
    if prompt.code:
        return _(
            "Sign in to Microsoft 365: open {url} in a browser (on this or another computer or "
            "phone) and enter this code: {code}\n"
            "Sign in with the account of the mailbox that sends the invitations. This window "
            "waits until you are done (the code is valid for {minutes} minutes)."
        ).format(url=prompt.url, code=prompt.code, minutes=prompt.minutes)
    return _(
        "Sign in to Google: your browser opens the sign-in page. If it does not, open this "
        "page yourself on this computer:\n{url}\n"
        "Sign in with the account of the mailbox that sends the invitations and choose "
        "'Allow'. This window waits {minutes} minutes for your answer."
    ).format(url=prompt.url, minutes=prompt.minutes)


def login(
    home: HomeOption = None,
    *,
    no_browser: Annotated[
        bool,
        typer.Option(
            "--no-browser", help=_("Google: only show the sign-in address, open no browser.")
        ),
    ] = False,
) -> None:
    """Sign in to Microsoft 365 or Google for sending (see `register` for the help text)."""
    opened = open_workspace(home)
    settings = opened.settings

    def show(prompt: SignInPrompt) -> None:
        console.print(sign_in_steps(prompt), markup=False)

    account = sign_in(settings, show, open_browser=not no_browser)
    if settings.smtp_provider == Provider.MICROSOFT365 and (
        settings.smtp_oauth_client_secret.get_secret_value() or settings.smtp_oauth_certificate_file
    ):
        console.print(
            _(
                "The app is signed in to Microsoft 365 and may send as {account}; nothing was "
                "stored (the app signs in again for every sending)."
            ).format(account=account),
            markup=False,
        )
        return
    console.print(
        _(
            "Signed in as {account}. The sign-in is stored in {file} (readable by you only); "
            "`mailer send` uses it from now on."
        ).format(account=account, file=cache_file_for(settings).path),
        markup=False,
    )


def logout(home: HomeOption = None) -> None:
    """Forget the stored sign-in (see `register` for the help text)."""
    opened = open_workspace(home)
    if sign_out(opened.settings):
        console.print(
            _("Signed out: the stored sign-in was removed. Sign in again with `mailer login`."),
            markup=False,
        )
    else:
        console.print(_("There was no stored sign-in; nothing was changed."), markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    app.command(
        help=_(
            "Sign in to Microsoft 365 or Google for sending (OAuth 2.0). Once is enough: later "
            'runs renew the sign-in by themselves. Needs auth = "oauth2" and the provider\'s '
            "settings under [smtp]."
        )
    )(login)
    app.command(
        help=_("Forget the stored sign-in (remove the token cache of this workspace's mailbox).")
    )(logout)
