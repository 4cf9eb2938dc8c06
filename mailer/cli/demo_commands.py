"""Commands that try the tool without sending to anyone: `demo` (the whole flow on the
bundled examples) and `smtp-server` (a local server that keeps what it receives).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from mailer.cli.common import (
    console,
)
from mailer.cli.reading_commands import list_messages
from mailer.i18n import _, ngettext
from mailer.outbox.store import Outbox

__all__ = ["register"]


def _show_received(messages: list[Any]) -> None:
    console.print(
        ngettext(
            "{count} message arrived at the local server:",
            "{count} messages arrived at the local server:",
            len(messages),
        ).format(count=len(messages)),
        markup=False,
    )
    for received in messages:
        console.print(
            "  "
            + _("to {to}: {subject}").format(
                to=", ".join(received.envelope_to), subject=received.parsed()["Subject"]
            ),
            markup=False,
        )
    if messages:
        from mailer.letters.message import letter_parts  # see `demo`

        text = letter_parts(messages[0].data).text
        if text is not None:
            console.print("\n" + _("The first letter as the parents read it:") + "\n", markup=False)
            console.print(text, markup=False)


def demo(
    directory: Annotated[
        Path,
        typer.Option(
            "--home",
            metavar=_("FOLDER"),
            help=_("Folder for the demo workspace (replaced each run)."),
        ),
    ] = Path("demo-workspace"),
    old_name: Annotated[Path | None, typer.Option("--dir", hidden=True)] = None,
) -> None:
    """Run the whole flow on the examples (see `register` for the help text)."""
    # Imported here, not at the top: other commands start without these libraries.
    from mailer.demo import run_demo

    def show_outbox(outbox: Outbox) -> None:
        list_messages(home=outbox.directory.parent)

    result = run_demo(
        old_name or directory, lambda line: console.print(line, markup=False), show_outbox
    )
    _show_received(result.received)
    if not result.report.all_well:
        raise typer.Exit(1)


def smtp_server(
    store: Annotated[
        Path,
        typer.Option("--store", metavar=_("FOLDER"), help=_("Folder where messages are kept.")),
    ],
    *,
    port: Annotated[
        int,
        typer.Option("--port", min=1, max=65535, metavar=_("NUMBER"), help=_("Port to listen on.")),
    ] = 8025,
) -> None:
    """Run a local SMTP server (see `register` for the help text)."""
    # Imported here, not at the top: other commands start without these libraries.
    from mailer.sending.local_server import LocalSmtpServer

    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    with LocalSmtpServer(store, port=port) as server:
        console.print(
            _(
                "Listening on {host}:{port}; messages are kept in {folder} and delivered to "
                "nobody. Stop with Ctrl-C."
            ).format(host=server.host, port=server.port, folder=store),
            markup=False,
        )
        stop.wait()
    received = server.handler.received
    console.print(
        ngettext(
            "Stopped after receiving {count} message.",
            "Stopped after receiving {count} messages.",
            received,
        ).format(count=received),
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    app.command(
        help=_(
            "Run the whole flow on the bundled examples: queue, approve, send to a local server."
        )
    )(demo)
    app.command(
        "smtp-server",
        help=_(
            "Run a local SMTP server on 127.0.0.1 that keeps every message in a folder (no "
            "delivery)."
        ),
    )(smtp_server)
