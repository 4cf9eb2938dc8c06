"""What every command shares: the workspace option, opening a workspace, and printing.

Human output is a Rich table on a terminal and plain text otherwise; problems go to stderr as one
line each.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mailer.config import Settings, load_settings
from mailer.i18n import _
from mailer.outbox.ids import ID_LENGTH, MIN_PREFIX, is_id
from mailer.outbox.store import Outbox
from mailer.review.decisions import ReviewPolicy, review_policy
from mailer.workspace import Workspace, find_workspace

__all__ = [
    "INTERRUPTED_EXIT_CODE",
    "HomeOption",
    "Interrupted",
    "MessageIdArgument",
    "MessageIdsArgument",
    "Opened",
    "OptionalMessageIdArgument",
    "RequiredMessageIdsArgument",
    "console",
    "default_person",
    "error_console",
    "format_day",
    "format_moment",
    "message_id_form",
    "open_workspace",
    "print_json",
    "print_problem",
    "print_rows",
]

console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        metavar=_("FOLDER"),
        help=_("The workspace folder (default: $MAILER_HOME, else the current folder)."),
        show_default=False,
    ),
]


def message_id_form(value: str) -> str:
    """A message ID as typed: the ID or at least its first characters. Anything else is wrong
    usage (exit 2), found before the outbox is opened."""
    typed = value.strip().lower()
    if not is_id(typed, exact=False):
        raise typer.BadParameter(
            _("{typed!r} is not a message ID; `mailer list` shows them").format(typed=value)
        )
    if len(typed) < min(MIN_PREFIX, ID_LENGTH):
        raise typer.BadParameter(
            _("{typed!r}: type at least {count} characters of the ID").format(
                typed=value, count=MIN_PREFIX
            )
        )
    return typed


MessageIdArgument = Annotated[
    str,
    typer.Argument(
        metavar="ID",
        parser=message_id_form,
        help=_("Message ID (its first characters are enough when they are unique)."),
        show_default=False,
    ),
]
OptionalMessageIdArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="ID",
        parser=message_id_form,
        help=_("Only this message (its first characters are enough when they are unique)."),
        show_default=False,
    ),
]
RequiredMessageIdsArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="ID...",
        parser=message_id_form,
        help=_("Message IDs (their first characters are enough when they are unique)."),
        show_default=False,
    ),
]
MessageIdsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="ID...",
        parser=message_id_form,
        help=_("Message IDs (their first characters are enough when they are unique)."),
        show_default=False,
    ),
]


def format_day(moment: datetime) -> str:
    """A date as people here write it: 01-12-2026 (machine output keeps ISO 8601)."""
    return f"{moment:%d-%m-%Y}"


def format_moment(moment: datetime, seconds: bool = False) -> str:
    """A date and time as people here write it: 01-12-2026 14:30 (or 14:30:05)."""
    return f"{moment:%d-%m-%Y %H:%M:%S}" if seconds else f"{moment:%d-%m-%Y %H:%M}"


@dataclass(frozen=True)
class Opened:
    """A workspace with its settings and outbox, ready for a command."""

    workspace: Workspace
    settings: Settings
    outbox: Outbox

    @property
    def policy(self) -> ReviewPolicy:
        return review_policy(self.workspace, self.settings)


def open_workspace(home: Path | None) -> Opened:
    workspace = find_workspace(home)
    settings = load_settings(workspace.root)
    return Opened(workspace, settings, Outbox.of_workspace(workspace, settings))


def default_person() -> str:
    """Who is at the keyboard, for `queued_by` when no --by is given."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def print_problem(text: str) -> None:
    error_console.print(text, markup=False)


class Interrupted(typer.Exit):
    """Ctrl-C, after the command has said in its own words what it left behind."""

    def __init__(self, explanation: str) -> None:
        print_problem(explanation)
        super().__init__(INTERRUPTED_EXIT_CODE)
        self.explained = True


INTERRUPTED_EXIT_CODE = 130


def print_json(data: Any) -> None:
    """Indented for a person at a terminal; one line for a script (and much faster to write)."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=indent) + "\n")


def print_rows(headers: Sequence[str], rows: Iterable[Sequence[str]], title: str = "") -> None:
    """A table on a terminal; tab-separated lines with a header line otherwise."""
    if console.is_terminal:
        table = Table(title=title or None, title_justify="left")
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    sys.stdout.write("\t".join(headers) + "\n")
    for row in rows:
        sys.stdout.write("\t".join(row) + "\n")
