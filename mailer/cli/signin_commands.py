"""Commands that sign in to the mail provider for SMTP with OAuth 2.0: login and logout.

The steps for the person at the keyboard are in Dutch, as the staff read them; the work is done
by `mailer.signin`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mailer.cli.common import HomeOption, console, open_workspace
from mailer.config import Provider
from mailer.signin import SignInPrompt, sign_in, sign_out
from mailer.signin.token_cache import cache_file_for

__all__ = ["register", "sign_in_steps"]


def sign_in_steps(prompt: SignInPrompt) -> str:
    """What to do, in Dutch: type a code at Microsoft's address, or approve in the browser."""
    if prompt.code:
        return (
            f"Inloggen bij Microsoft 365: open {prompt.url} in een browser (op deze of een andere "
            f"computer of telefoon) en voer deze code in: {prompt.code}\n"
            "Log in met het account van de mailbox die de uitnodigingen verstuurt. Dit venster "
            f"wacht tot u klaar bent (de code is {prompt.minutes} minuten geldig)."
        )
    return (
        "Inloggen bij Google: uw browser opent de inlogpagina. Gebeurt dat niet, open dan deze "
        f"pagina zelf op deze computer:\n{prompt.url}\n"
        "Log in met het account van de mailbox die de uitnodigingen verstuurt en kies "
        f"'Toestaan'. Dit venster wacht {prompt.minutes} minuten op uw antwoord."
    )


def login(
    home: HomeOption = None,
    *,
    no_browser: Annotated[
        bool,
        typer.Option(
            "--no-browser", help="Google: only show the sign-in address, open no browser."
        ),
    ] = False,
) -> None:
    """Sign in to Microsoft 365 or Google for sending (OAuth 2.0), once; later runs refresh the
    sign-in by themselves. Needs auth = "oauth2" and the provider's settings under [smtp]."""
    opened = open_workspace(home)
    settings = opened.settings

    def show(prompt: SignInPrompt) -> None:
        console.print(sign_in_steps(prompt), markup=False)

    account = sign_in(settings, show, open_browser=not no_browser)
    if settings.smtp_provider == Provider.MICROSOFT365 and (
        settings.smtp_oauth_client_secret.get_secret_value() or settings.smtp_oauth_certificate_file
    ):
        console.print(
            f"De app is aangemeld bij Microsoft 365 en mag versturen als {account}; er is niets "
            "bewaard (de app meldt zich bij elke verzending opnieuw aan).",
            markup=False,
        )
        return
    console.print(
        f"Ingelogd als {account}. De aanmelding is bewaard in {cache_file_for(settings).path} "
        "(alleen voor u leesbaar); `mailer send` gebruikt hem voortaan zelf.",
        markup=False,
    )


def logout(home: HomeOption = None) -> None:
    """Forget the stored sign-in (remove the token cache of this workspace's mailbox)."""
    opened = open_workspace(home)
    if sign_out(opened.settings):
        console.print(
            "Uitgelogd: de bewaarde aanmelding is verwijderd. Log opnieuw in met `mailer login`.",
            markup=False,
        )
    else:
        console.print("Er was geen bewaarde aanmelding; er is niets veranderd.", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    app.command()(login)
    app.command()(logout)
