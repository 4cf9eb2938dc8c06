"""Commands about the outbox itself: `db upgrade` (an administrator's step on a team's PostgreSQL
database) and `export` (the exact bytes of messages as .eml files any mail program opens)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import (
    HomeOption,
    MessageIdsArgument,
    console,
    open_workspace,
    print_problem,
)
from mailer.config import load_settings
from mailer.durable import durable_write
from mailer.errors import MessageNotFound
from mailer.i18n import _, ngettext
from mailer.outbox.database import (
    database_url,
    describe,
    open_engine,
    schema_revision,
    upgrade_schema,
)
from mailer.outbox.schema import SCHEMA_REVISION
from mailer.outbox.states import State
from mailer.workspace import find_workspace

__all__ = ["register"]


def db_upgrade(home: HomeOption = None) -> None:
    """Create or upgrade the outbox's tables (see `register` for the help text)."""
    workspace = find_workspace(home)
    settings = load_settings(workspace.root)
    url = database_url(workspace.outbox_dir, settings.database_url.get_secret_value())
    engine = open_engine(url, check_schema=False)
    try:
        with engine.connect() as connection:
            before = schema_revision(connection)
        if before == SCHEMA_REVISION:
            console.print(
                _("{database}: the outbox schema is up to date ({revision}).").format(
                    database=describe(url), revision=before
                ),
                markup=False,
            )
            return
        upgrade_schema(engine)
    finally:
        engine.dispose()
    if before:
        done = _("{database}: outbox schema upgraded from {before} to {after}.")
    else:
        done = _("{database}: outbox schema created ({after}).")
    console.print(
        done.format(database=describe(url), before=before, after=SCHEMA_REVISION), markup=False
    )


def export(
    messages: MessageIdsArgument = None,
    home: HomeOption = None,
    *,
    to: Annotated[
        Path,
        typer.Option(
            "--to", metavar=_("FOLDER"), help=_("The folder to write the ID.eml files into.")
        ),
    ],
    state: Annotated[
        State | None,
        typer.Option(
            "--state",
            help=_(
                "Every message in this state: pending (waiting for review), approved, rejected, "
                "sending (being sent now), sent, failed, unknown (unknown whether it arrived)."
            ),
        ),
    ] = None,
) -> None:
    """Write messages as .eml files (see `register` for the help text)."""
    if bool(messages) == (state is not None):
        print_problem(_("name the messages to export, or give --state (not both)"))
        raise typer.Exit(2)
    opened = open_workspace(home)
    outbox = opened.outbox
    if messages:
        ids = [outbox.resolve(typed) for typed in messages]
    else:
        ids = [stored.id for stored in outbox.messages(state)]
    # Letters hold personal data: a new folder is the owner's alone (an existing one is left).
    try:
        to.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        print_problem(
            _("--to {folder}: cannot write there ({reason}); give a folder").format(
                folder=to, reason=error.strerror
            )
        )
        raise typer.Exit(2) from None
    written = 0
    for message_id in ids:
        try:
            data = outbox.read_bytes(message_id)
        except MessageNotFound as error:
            print_problem(str(error))
            continue
        durable_write(to / f"{message_id}.eml", data)
        written += 1
    console.print(
        ngettext(
            "{count} message written to {folder}.", "{count} messages written to {folder}.", written
        ).format(count=written, folder=to),
        markup=False,
    )
    if written < len(ids):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    from mailer.cli.help_layout import SummarisedGroup

    database = typer.Typer(
        cls=SummarisedGroup,
        help=_("The outbox's database: `mailer db upgrade` creates or upgrades its tables."),
        no_args_is_help=True,
    )
    database.command(
        "upgrade",
        help=_(
            "Create or upgrade the outbox's tables. Needed once on a team's PostgreSQL "
            "database, and after installing a newer version; the workspace's own SQLite file "
            "does it itself."
        ),
    )(db_upgrade)
    app.add_typer(database, name="db")
    app.command(
        help=_(
            "Write messages as .eml files, byte for byte as they are stored (sending adds only "
            "the Date line). Any mail program opens them."
        )
    )(export)
