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
from mailer.errors import InvalidRecords, RowProblem
from mailer.i18n import _, ngettext, set_language
from mailer.review.decisions import check_person_name
from mailer.workspace import init_workspace

if TYPE_CHECKING:
    from mailer.outbox.queueing import QueueReport, RowOutcome

__all__ = ["register"]


def init(
    directory: Annotated[
        Path, typer.Argument(metavar=_("FOLDER"), help=_("Folder for the new workspace."))
    ],
) -> None:
    """Create a workspace from the defaults (see `register` for the help text)."""
    workspace, created = init_workspace(directory)
    console.print(
        ngettext(
            "Workspace ready in {folder} ({count} file created).",
            "Workspace ready in {folder} ({count} files created).",
            len(created),
        ).format(folder=workspace.root, count=len(created)),
        markup=False,
    )
    if not created:
        console.print(_("Every file was already there; nothing was changed."), markup=False)
    console.print(
        _("Next: edit {settings}, then `mailer queue FILE --home {folder}`.").format(
            settings=workspace.settings_file.relative_to(workspace.root), folder=directory
        ),
        markup=False,
    )


def _outcome_line(outcome: RowOutcome) -> str:
    if outcome.action == "queued":
        text = _("row {row}: queued {id}  {child}  {when}  to {to}")
    elif outcome.action == "updated":
        text = _("row {row}: {id} is an updated invitation for {child} (the earlier one was sent)")
    elif outcome.action == "replaced":
        text = _(
            "row {row}: {id} for {child} was not sent yet and now holds the changed record; "
            "review it again"
        )
    else:
        text = _("row {row}: {id} for {child} is already in the outbox as it is; not queued again")
    return text.format(
        row=outcome.row,
        id=outcome.message_id,
        child=outcome.child_name,
        when=f"{outcome.meeting_at:%d-%m-%Y %H:%M}",
        to=", ".join(outcome.to),
    )


def _print_problems(problems: list[RowProblem], total: int) -> None:
    for problem in problems:
        print_problem(str(problem))
    if total > len(problems):
        print_problem(
            ngettext(
                "... and {count} more problem (only the first {shown} are shown)",
                "... and {count} more problems (only the first {shown} are shown)",
                total - len(problems),
            ).format(count=total - len(problems), shown=len(problems))
        )


def _summary(report: QueueReport) -> str:
    updated = report.count("updated") + report.count("replaced")
    parts = [
        ngettext("{count} queued", "{count} queued", report.count("queued")),
        ngettext("{count} updated", "{count} updated", updated),
        ngettext("{count} unchanged", "{count} unchanged", report.count("unchanged")),
        ngettext("{count} invalid row", "{count} invalid rows", report.invalid_rows),
    ]
    counts = [report.count("queued"), updated, report.count("unchanged"), report.invalid_rows]
    text = ", ".join(part.format(count=count) for part, count in zip(parts, counts, strict=True))
    if report.count("queued") or updated:
        return text + ". " + _("Review them with `mailer list` and `mailer show ID`.")
    return text + "."


def _print_report(report: QueueReport, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                # Every new message: first invitations and updated ones after a sent letter.
                "queued": [
                    o.message_id for o in report.outcomes if o.action in {"queued", "updated"}
                ],
                "rows": [
                    {"row": o.row, "action": o.action, "id": o.message_id} for o in report.outcomes
                ],
                "already_queued": [
                    {"row": row, "id": message_id} for row, message_id in report.already_queued
                ],
                "invalid_rows": report.invalid_rows,
                "problems": [str(problem) for problem in report.problems],
                "total_problems": report.total_problems,
            }
        )
        return
    sys.stdout.write("".join(f"{_outcome_line(outcome)}\n" for outcome in report.outcomes))
    _print_problems(report.problems, report.total_problems)
    if not report.outcomes and not report.problems:
        console.print(_("The file holds no rows: there is nothing to queue."), markup=False)
        return
    console.print(_summary(report), markup=False)


def queue(
    file: Annotated[
        Path,
        typer.Argument(
            metavar=_("FILE"),
            help=_("Intake file: .xlsx (or .ods, .xls), .csv (`,` `;` or tab), .json or .jsonl."),
        ),
    ],
    home: HomeOption = None,
    *,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar=_("NAME"),
            help=_("Who queues these messages (default: your login name)."),
        ),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help=_("Queue the valid rows even when others are invalid.")
        ),
    ] = False,
    sheet: Annotated[
        str | None,
        typer.Option(
            "--sheet",
            metavar=_("NAME"),
            help=_("The sheet of a spreadsheet to read (default: the first)."),
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print the result as JSON."))] = False,
) -> None:
    """Check the file and queue its invitations (see `register` for the help text)."""
    # Imported here, not at the top: other commands start without the letter's libraries.
    from mailer.letters.compose import Composer
    from mailer.letters.rendering import LetterRenderer
    from mailer.outbox.queueing import InvalidIntakeFile, queue_file

    if as_json:
        # Scripts read the JSON: its problem texts are English whatever language staff chose,
        # as in `mailer list --json`.
        set_language("en")
    opened = open_workspace(home)
    composer = Composer(opened.settings, LetterRenderer(opened.workspace.templates_dir))
    notices: list[str] = []
    try:
        report = queue_file(
            file,
            opened.outbox,
            composer,
            check_person_name(by or default_person()),
            skip_invalid=skip_invalid,
            keep_messages=False,
            sheet=sheet,
            notices=notices,
        )
    except InvalidRecords as invalid:
        for notice in notices:
            print_problem(notice)
        total = invalid.check.total_problems if isinstance(invalid, InvalidIntakeFile) else 0
        _print_problems(invalid.problems, max(total, len(invalid.problems)))
        print_problem(_("Nothing was queued: {reason}.").format(reason=invalid))
        raise typer.Exit(1) from None
    for notice in notices:
        print_problem(notice)
    _print_report(report, as_json)
    if report.problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(
        help=_(
            "Create a workspace (config/, templates/, outbox/, examples/) from the defaults. "
            "Existing files are never overwritten."
        )
    )(init)
    app.command(
        help=_(
            "Check every row of FILE, then put one invitation per child in the outbox for review."
        )
    )(queue)
