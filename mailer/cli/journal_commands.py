"""Commands over the outbox's journal and what it keeps: `log` shows it, `purge` empties the
content of finished messages while the journal keeps that they existed.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer

from mailer.cli.common import (
    HomeOption,
    OptionalMessageIdArgument,
    console,
    default_person,
    format_day,
    format_moment,
    open_workspace,
    print_json,
    print_problem,
    print_rows,
)
from mailer.clock import AMSTERDAM
from mailer.i18n import _, ngettext, state_name
from mailer.outbox.models import HistoryEntry, JournalEntry
from mailer.outbox.purge import plan_purge, purge_planned
from mailer.outbox.store import State
from mailer.review.decisions import check_person_name

__all__ = ["register"]


def log(
    message: OptionalMessageIdArgument = None,
    home: HomeOption = None,
    *,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print a JSON array."))] = False,
) -> None:
    """Show the audit journal (see `register` for the help text)."""
    opened = open_workspace(home)
    message_id = opened.outbox.resolve(message) if message else None
    entries = opened.outbox.journal(message_id)
    if as_json:
        print_json([entry.model_dump(mode="json") for entry in entries])
        return
    if not entries:
        console.print(_("The journal is empty."), markup=False)
        return
    rows = [
        [
            format_moment(entry.at, seconds=True),
            entry.message,
            f"{state_name(entry.from_state or '-')} -> {state_name(entry.to_state)}",
            entry.by,
            _journal_note(entry),
            entry.reply,
        ]
        for entry in entries
    ]
    headers = [_("Time"), _("Message"), _("Change"), _("By"), _("Note"), _("Reply")]
    print_rows(headers, rows, title=_("Journal"))


def _journal_note(entry: JournalEntry) -> str:
    """The note in words as the page shows it; the journal itself keeps the stored note."""
    # Imported here: the page's package loads its web libraries, which `send` does without.
    from mailer.web.texts import note_in_words, plain

    states = {state.value for state in State}
    if entry.to_state not in states or (entry.from_state or "pending") not in states:
        return plain(entry.note)
    return note_in_words(
        HistoryEntry(
            at=entry.at,
            from_state=State(entry.from_state) if entry.from_state else None,
            to_state=State(entry.to_state),
            by=entry.by,
            note=entry.note,
        )
    )


def _parse_day(text: str) -> datetime:
    for pattern in ("%Y-%m-%d", "%d-%m-%Y"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=AMSTERDAM)
        except ValueError:
            continue
    print_problem(
        _("--before: {text} is not a date; write it as YYYY-MM-DD or DD-MM-YYYY").format(
            text=repr(text)
        )
    )
    raise typer.Exit(2)


def _confirm_purge(count: int, cutoff: datetime, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        print_problem(
            _("purge needs --yes when not run in a terminal (see first what it does: --dry-run)")
        )
        raise typer.Exit(2)
    question = ngettext(
        "Remove the content of {count} message finished before {day}? This cannot be undone.",
        "Remove the content of {count} messages finished before {day}? This cannot be undone.",
        count,
    )
    typer.confirm(question.format(count=count, day=format_day(cutoff)), abort=True)


def purge(
    home: HomeOption = None,
    *,
    before: Annotated[
        str,
        typer.Option(
            "--before",
            metavar=_("YYYY-MM-DD"),
            help=_("Purge messages finished before this date (also DD-MM-YYYY)."),
        ),
    ],
    by: Annotated[
        str | None,
        typer.Option("--by", metavar=_("NAME"), help=_("Who purges (default: your login name).")),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help=_("Say what would be purged; change nothing."))
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help=_("Do not ask for confirmation."))
    ] = False,
) -> None:
    """Remove the content of finished messages (see `register` for the help text)."""
    cutoff = _parse_day(before)
    opened = open_workspace(home)
    person = check_person_name(by or default_person())
    plan = plan_purge(opened.outbox, cutoff)
    if plan.meeting_ahead:
        console.print(
            ngettext(
                "{count} message finished before {day} is kept: its meeting is still to come.",
                "{count} messages finished before {day} are kept: their meeting is still to come.",
                len(plan.meeting_ahead),
            ).format(count=len(plan.meeting_ahead), day=format_day(cutoff)),
            markup=False,
        )
    if dry_run:
        for message_id in plan.due:
            console.print(_("would purge {id}").format(id=message_id), markup=False)
        console.print(
            ngettext(
                "Would purge {count} message.", "Would purge {count} messages.", len(plan.due)
            ).format(count=len(plan.due)),
            markup=False,
        )
        return
    if plan.due:
        _confirm_purge(len(plan.due), cutoff, yes)
    purged = purge_planned(opened.outbox, plan, person)
    for message_id in purged:
        console.print(_("purged {id}").format(id=message_id), markup=False)
    console.print(
        ngettext(
            "{count} message finished before {day} purged; the journal keeps one line for it, "
            "without personal data.",
            "{count} messages finished before {day} purged; the journal keeps one line for "
            "each, without personal data.",
            len(purged),
        ).format(count=len(purged), day=format_day(cutoff)),
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    app.command(
        help=_("Show the audit journal: every state change, by whom, with the server's reply.")
    )(log)
    app.command(
        help=_(
            "Remove the content (letter, names, addresses, previews) of sent, failed and "
            "rejected messages finished before DATE whose meeting has passed; the journal keeps "
            "that they existed, without personal data. Asks first on a terminal (--yes "
            "otherwise)."
        )
    )(purge)
