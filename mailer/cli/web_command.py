"""The `review` command: the outbox in the browser.

It serves the review page on 127.0.0.1 and runs until Ctrl+C. The browser is opened through a
private file that sends it on to the address with the secret token (as Jupyter does), so the
token never stands on a command line that other users of the computer can read. The token works
once, for a few minutes; with --no-browser the address is printed to paste into a browser.
"""

from __future__ import annotations

import contextlib
import sys
import webbrowser
from typing import Annotated

import typer

from mailer.cli.common import HomeOption, open_workspace
from mailer.i18n import _

__all__ = ["register"]


def review(
    home: HomeOption = None,
    *,
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            show_default=False,
            metavar=_("NUMBER"),
            help=_("Port on 127.0.0.1 (default: a free one)."),
        ),
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help=_("Only print the address; do not open a browser."))
    ] = False,
) -> None:
    """Review the outbox in the browser (see `register` for the help text)."""
    # Imported here, not at the top: other commands start without these libraries.
    from mailer.web.security import TOKEN_LIFETIME
    from mailer.web.server import ReviewServer

    opened = open_workspace(home)
    server = ReviewServer(opened.workspace, opened.settings, port=port)
    minutes = round(TOKEN_LIFETIME / 60)
    opener = None if no_browser else server.write_opener()
    # Plain writes, flushed: a script or test reading this output sees the address at once.
    if opener is not None and _open_browser(opener.as_uri()):
        _write(
            _("Review page for {folder} opened in your browser. Press Ctrl+C to stop.").format(
                folder=opened.workspace.root
            )
        )
    else:
        if opener is not None:
            _write(_("No browser found here; open the address below in a browser."))
        _write(
            _(
                "Review page for {folder}:\n  {url}\nThis address works once, within {minutes} "
                "minutes, in one browser; keep it to yourself. Press Ctrl+C to stop."
            ).format(folder=opened.workspace.root, url=server.url, minutes=minutes)
        )
    try:
        # uvicorn stops gracefully on Ctrl+C and then raises the signal again: here it is the
        # normal way to stop, not an interruption.
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
    finally:
        if opener is not None:
            opener.unlink(missing_ok=True)
    _write(_("Review page stopped."))


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _open_browser(url: str) -> bool:
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    app.command(
        help=_("Review the outbox in your browser: read each letter, then approve or reject it.")
    )(review)
