"""The `review` command: the outbox in the browser.

It serves the review page on 127.0.0.1, prints its address with the secret token (as Jupyter
does), opens the browser where there is one, and runs until Ctrl+C.
"""

from __future__ import annotations

import contextlib
import sys
import webbrowser
from typing import Annotated

import typer

from mailer.cli.common import HomeOption, open_workspace

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
            help="Port on 127.0.0.1 (default: a free one).",
        ),
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Only print the address; do not open a browser.")
    ] = False,
) -> None:
    """Review the outbox in your browser: read each letter, then approve or reject it."""
    # Imported here, not at the top: other commands start without these libraries.
    from mailer.web.server import ReviewServer

    opened = open_workspace(home)
    server = ReviewServer(opened.workspace, opened.settings, port=port)
    # Plain writes, flushed: a script or test reading this output sees the address at once.
    sys.stdout.write(
        f"Review page for {opened.workspace.root}:\n  {server.url}\n"
        "Anyone with this address can approve messages: keep it to yourself. "
        "Press Ctrl+C to stop.\n"
    )
    sys.stdout.flush()
    if not no_browser and not _open_browser(server.url):
        sys.stdout.write("No browser found here; open the address above in a browser.\n")
        sys.stdout.flush()
    # uvicorn stops gracefully on Ctrl+C and then raises the signal again: here it is the
    # normal way to stop, not an interruption.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    sys.stdout.write("Review page stopped.\n")


def _open_browser(url: str) -> bool:
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    app.command()(review)
