"""Commands about the outbox itself: `db upgrade` (an administrator's step on a team's PostgreSQL
database) and `export` (the exact bytes of messages as .eml files any mail program opens)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import HomeOption, console, open_workspace, print_problem
from mailer.config import load_settings
from mailer.durable import durable_write
from mailer.errors import MessageNotFound
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
    """Create or upgrade the outbox's tables (needed once on a team's PostgreSQL database,
    and after installing a newer version; the workspace's own SQLite file does it itself)."""
    workspace = find_workspace(home)
    settings = load_settings(workspace.root)
    url = database_url(workspace.outbox_dir, settings.database_url.get_secret_value())
    engine = open_engine(url, check_schema=False)
    try:
        with engine.connect() as connection:
            before = schema_revision(connection)
        if before == SCHEMA_REVISION:
            console.print(f"{describe(url)}: the outbox schema is up to date ({before}).")
            return
        upgrade_schema(engine)
    finally:
        engine.dispose()
    console.print(
        f"{describe(url)}: outbox schema {before or 'created'} -> {SCHEMA_REVISION}.",
        markup=False,
    )


def export(
    messages: Annotated[
        list[str] | None,
        typer.Argument(help="Message IDs (a unique prefix is enough).", show_default=False),
    ] = None,
    home: HomeOption = None,
    *,
    to: Annotated[Path, typer.Option("--to", help="The folder to write ID.eml files into.")],
    state: Annotated[
        State | None, typer.Option("--state", help="Every message in this state.")
    ] = None,
) -> None:
    """Write messages as .eml files, byte for byte as they are (or were) sent."""
    if bool(messages) == (state is not None):
        print_problem("name the messages to export, or give --state (not both)")
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
        print_problem(f"--to {to}: cannot write there ({error.strerror}); give a folder")
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
    console.print(f"{written} message(s) written to {to}.", markup=False)
    if written < len(ids):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    database = typer.Typer(
        help="The outbox's database: `mailer db upgrade` creates or upgrades its tables.",
        no_args_is_help=True,
    )
    database.command("upgrade")(db_upgrade)
    app.add_typer(database, name="db")
    app.command()(export)
