"""Commands that fill the outbox: `init` and `queue`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailer.cli.common import (
    HomeOption,
    console,
    default_person,
    open_workspace,
    print_json,
    print_problem,
)
from mailer.errors import InvalidRecords
from mailer.i18n import _
from mailer.outbox.store import StoredMessage
from mailer.review.decisions import check_person_name
from mailer.workspace import init_workspace

if TYPE_CHECKING:
    from mailer.outbox.queueing import QueueReport

__all__ = ["register"]


def init(
    directory: Annotated[
        Path, typer.Argument(metavar=_("FOLDER"), help="Folder for the new workspace.")
    ],
) -> None:
    """Create a workspace (config/, templates/, outbox/, examples/) from the defaults.

    Existing files are never overwritten.
    """
    workspace, created = init_workspace(directory)
    console.print(
        f"Workspace ready in {workspace.root} ({len(created)} file(s) created).", markup=False
    )
    if not created:
        console.print("Every file was already there; nothing was changed.")
    console.print(
        f"Next: edit {workspace.settings_file.relative_to(workspace.root)}, then "
        f"`mailer queue FILE --home {directory}`.",
        markup=False,
    )


def _queued_line(message: StoredMessage) -> str:
    return (
        f"queued {message.id}  {message.child_name}  {message.meeting_at:%d-%m-%Y %H:%M}  "
        f"to {', '.join(message.to)}"
    )


def _print_report(report: QueueReport, queued_ids: list[str] | None) -> None:
    if queued_ids is not None:
        print_json(
            {
                "queued": queued_ids,
                "already_queued": [
                    {"row": row, "id": message_id} for row, message_id in report.already_queued
                ],
                "problems": [str(problem) for problem in report.problems],
            }
        )
        return
    for row, message in report.updated:
        console.print(
            f"row {row}: {message.id} is an updated invitation (the earlier one was sent)",
            markup=False,
        )
    for row, message in report.replaced:
        console.print(
            f"row {row}: {message.id} was not sent yet and now holds the changed record; "
            "review it again",
            markup=False,
        )
    for row, message_id in report.already_queued:
        console.print(
            f"row {row}: already in the outbox as {message_id}; not queued again", markup=False
        )
    for problem in report.problems:
        print_problem(str(problem))
    summary = f"{report.queued_count} queued, {len(report.already_queued)} already in the outbox"
    if report.problems:
        summary += f", {report.invalid_rows} invalid row(s) skipped"
    console.print(summary + ". Review them with `mailer list` and `mailer show ID`.", markup=False)


def queue(
    file: Annotated[
        Path,
        typer.Argument(
            metavar=_("FILE"), help="Intake file: .csv (`,` `;` or tab), .json or .jsonl."
        ),
    ],
    home: HomeOption = None,
    *,
    by: Annotated[
        str | None,
        typer.Option(
            "--by", metavar=_("NAME"), help="Who queues these messages (default: your login name)."
        ),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Queue the valid rows even when others are invalid."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Validate every row of FILE, then put one invitation per child in the outbox for review."""
    # Imported here, not at the top: other commands start without the letter's libraries.
    from mailer.letters.compose import Composer
    from mailer.letters.rendering import LetterRenderer
    from mailer.outbox.queueing import queue_file

    opened = open_workspace(home)
    composer = Composer(opened.settings, LetterRenderer(opened.workspace.templates_dir))
    # A line (or the ID) per message, printed once the file's transaction is committed; the
    # messages themselves are not kept, so a large export takes little memory.
    shown: list[str] = []

    def on_queued(message: StoredMessage) -> None:
        shown.append(message.id if as_json else _queued_line(message))

    try:
        report = queue_file(
            file,
            opened.outbox,
            composer,
            check_person_name(by or default_person()),
            skip_invalid=skip_invalid,
            keep_messages=False,
            on_queued=on_queued,
        )
    except InvalidRecords as invalid:
        for problem in invalid.problems:
            print_problem(str(problem))
        print_problem(f"Nothing was queued: {invalid}.")
        raise typer.Exit(1) from None
    if not as_json:
        sys.stdout.write("".join(f"{line}\n" for line in shown))
    _print_report(report, shown if as_json else None)
    if report.problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(queue)
