"""Commands for reading the outbox: `list` (every message, its state and any problem) and
`show` (one message: details, version code, history and the letter).
"""

from __future__ import annotations

import sys
import webbrowser
from typing import Annotated

import typer

from mailer.cli.common import (
    HomeOption,
    MessageIdArgument,
    Opened,
    console,
    open_workspace,
    print_json,
    print_problem,
    print_rows,
)
from mailer.durable import durable_write, private_directory
from mailer.i18n import _, state_name
from mailer.outbox.store import State, StoredMessage, sha256_hex
from mailer.review.decisions import ReviewPolicy
from mailer.review.summary import message_summary, problems_of
from mailer.review.versions import version_code

__all__ = ["register"]


def list_messages(
    home: HomeOption = None,
    *,
    state: Annotated[
        State | None,
        typer.Option(
            "--state",
            help=_(
                "Only messages in this state: pending (waiting for review), approved, rejected, "
                "sending (being sent now), sent, failed, unknown (unknown whether it arrived)."
            ),
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help=_("Print a JSON array for scripts."))
    ] = False,
) -> None:
    """List the outbox's messages (see `register` for the help text)."""
    opened = open_workspace(home)
    policy_ = opened.policy
    damaged: list[str] = []
    # What is printed is kept, not the messages: memory stays small for a large outbox.
    # Sorted by meeting, as staff plan them.
    listed = opened.outbox.messages(state, damaged=damaged)
    if as_json:
        summaries = sorted(
            ((m.meeting_at, m.id), message_summary(opened.outbox, m, policy_)) for m in listed
        )
        _report_damaged(damaged)
        print_json([summary for _, summary in summaries])
    else:
        rows = sorted(((m.meeting_at, m.id), _table_row(opened, m, policy_)) for m in listed)
        _report_damaged(damaged)
        if rows:
            headers = ["ID", _("State"), _("Child"), _("Meeting"), _("To"), _("Problem")]
            print_rows(headers, [row for _, row in rows], title=_("Outbox"))
        else:
            none = (
                _("The outbox is empty.")
                if state is None
                else _("No messages in the state {state}.").format(state=state_name(state.value))
            )
            console.print(none, markup=False)
    if damaged:
        raise typer.Exit(1)


def _report_damaged(damaged: list[str]) -> None:
    for problem in damaged:
        print_problem(problem)


def _table_row(opened: Opened, stored: StoredMessage, policy_: ReviewPolicy) -> list[str]:
    # Imported here: the page's package loads its web libraries, which `send` does without.
    from mailer.web.texts import problem_in_words

    return [
        stored.id,
        state_name(stored.state.value),
        stored.child_name,
        f"{stored.meeting_at:%d-%m-%Y %H:%M}",
        ", ".join(stored.to),
        "; ".join(problem_in_words(problem) for problem in problems_of(stored, policy_)),
    ]


def _print_overview(opened: Opened, stored: StoredMessage, data: bytes, text: str) -> None:
    from mailer.web.texts import note_in_words, problem_in_words  # see `_table_row`

    console.print(
        _("ID:       {id} ({state})").format(id=stored.id, state=state_name(stored.state.value)),
        markup=False,
    )
    code = version_code(sha256_hex(data))
    console.print(
        _(
            "Version:  {code} (to approve this version: `mailer approve {id}@{code} --by NAME`)"
        ).format(code=code, id=stored.id),
        markup=False,
    )
    console.print(_("Subject:  {subject}").format(subject=stored.subject), markup=False)
    console.print(_("To:       {to}").format(to=", ".join(stored.to)), markup=False)
    console.print(
        _("Meeting:  {when} ({child})").format(
            when=f"{stored.meeting_at:%d-%m-%Y %H:%M}", child=stored.child_name
        ),
        markup=False,
    )
    console.print(
        _("Queued:   {when} by {by}").format(
            when=f"{stored.created_at:%d-%m-%Y %H:%M}", by=stored.queued_by
        ),
        markup=False,
    )
    if stored.approval:
        console.print(
            _("Approved: {when} by {by}").format(
                when=f"{stored.approval.at:%d-%m-%Y %H:%M}", by=stored.approval.by
            ),
            markup=False,
        )
    if stored.rejection:
        console.print(
            _("Rejected: {when} by {by}: {reason}").format(
                when=f"{stored.rejection.at:%d-%m-%Y %H:%M}",
                by=stored.rejection.by,
                reason=stored.rejection.reason,
            ),
            markup=False,
        )
    for problem in problems_of(stored, opened.policy):
        console.print(
            _("Problem:  {problem}").format(problem=problem_in_words(problem)), markup=False
        )
    console.print(_("History:"), markup=False)
    for entry in stored.history:
        came_from = state_name(entry.from_state.value) if entry.from_state else "-"
        console.print(
            "  "
            + _("{at}  {before} -> {after}  by {by}  {note}").format(
                at=f"{entry.at:%d-%m-%Y %H:%M:%S}",
                before=came_from,
                after=state_name(entry.to_state.value),
                by=entry.by,
                note=note_in_words(entry),
            ),
            markup=False,
        )
    console.print("")
    console.print(text, markup=False)


def show(
    message: MessageIdArgument,
    home: HomeOption = None,
    *,
    text_only: Annotated[
        bool, typer.Option("--text", help=_("Print only the plain-text part."))
    ] = False,
    html: Annotated[
        bool,
        typer.Option("--html", help=_("Write the HTML part to a file and open it in a browser.")),
    ] = False,
    raw: Annotated[
        bool, typer.Option("--raw", help=_("Print the exact bytes that will be sent."))
    ] = False,
) -> None:
    """Show one message (see `register` for the help text)."""
    # Imported here, not at the top: other commands start without these libraries.
    from mailer.letters.message import letter_parts

    opened = open_workspace(home)
    message_id = opened.outbox.resolve(message)
    stored = opened.outbox.load(message_id)
    data = opened.outbox.read_bytes(message_id)
    if raw:
        sys.stdout.buffer.write(data)
        return
    parts = letter_parts(data)
    text, html_part = parts.text or "", parts.html or ""
    if html:
        previews = private_directory(opened.workspace.outbox_dir / "previews")
        target = previews / f"{message_id}.html"
        durable_write(target, html_part.encode("utf-8"))
        console.print(_("HTML part written to {file}").format(file=target), markup=False)
        try:
            webbrowser.get()
        except webbrowser.Error:
            console.print(_("No browser found here; open that file in one."), markup=False)
        else:
            webbrowser.open(target.as_uri())
        return
    if text_only:
        sys.stdout.write(text)
        return
    _print_overview(opened, stored, data, text)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    app.command(
        "list", help=_("List the messages in the outbox with their state and any problem.")
    )(list_messages)
    app.command(
        help=_("Show one message: its details and history, and the letter as parents will read it.")
    )(show)
