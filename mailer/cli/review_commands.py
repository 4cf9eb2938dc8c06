"""Commands for reviewing the outbox: `list`, `show`, `approve`, `reject`."""

from __future__ import annotations

import sys
import webbrowser
from typing import Annotated

import typer

from mailer.cli.common import (
    HomeOption,
    MessageIdArgument,
    MessageIdsArgument,
    Opened,
    RequiredMessageIdsArgument,
    console,
    open_workspace,
    print_json,
    print_problem,
    print_rows,
)
from mailer.durable import durable_write, private_directory
from mailer.errors import MailerError
from mailer.i18n import _
from mailer.outbox.store import State, StoredMessage
from mailer.review.decisions import ReviewPolicy, approve_many
from mailer.review.decisions import reject as reject_message
from mailer.review.summary import message_problems, message_summary

__all__ = ["register"]

ByOption = Annotated[
    str,
    typer.Option("--by", metavar=_("NAME"), help="Your name: the decision is recorded under it."),
]


def list_messages(
    home: HomeOption = None,
    *,
    state: Annotated[
        State | None, typer.Option("--state", help="Only messages in this state.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array for scripts.")
    ] = False,
) -> None:
    """List the messages in the outbox with their state and any problem."""
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
            headers = ["ID", "state", "child", "meeting", "to", "problem"]
            print_rows(headers, [row for _, row in rows], title="Outbox")
        else:
            none = "The outbox is empty." if state is None else f"No {state.value} messages."
            console.print(none)
    if damaged:
        raise typer.Exit(1)


def _report_damaged(damaged: list[str]) -> None:
    for problem in damaged:
        print_problem(problem)


def _table_row(opened: Opened, stored: StoredMessage, policy_: ReviewPolicy) -> list[str]:
    return [
        stored.id,
        stored.state.value,
        stored.child_name,
        f"{stored.meeting_at:%d-%m-%Y %H:%M}",
        ", ".join(stored.to),
        "; ".join(message_problems(opened.outbox, stored, policy_)),
    ]


def _print_overview(opened: Opened, stored: StoredMessage, text: str) -> None:
    console.print(f"ID:       {stored.id} ({stored.state.value})", markup=False)
    console.print(f"Subject:  {stored.subject}", markup=False)
    console.print(f"To:       {', '.join(stored.to)}", markup=False)
    console.print(
        f"Meeting:  {stored.meeting_at:%d-%m-%Y %H:%M} ({stored.child_name})", markup=False
    )
    console.print(
        f"Queued:   {stored.created_at:%d-%m-%Y %H:%M} by {stored.queued_by}", markup=False
    )
    if stored.approval:
        console.print(
            f"Approved: {stored.approval.at:%d-%m-%Y %H:%M} by {stored.approval.by}", markup=False
        )
    if stored.rejection:
        console.print(
            f"Rejected: {stored.rejection.at:%d-%m-%Y %H:%M} by {stored.rejection.by}: "
            f"{stored.rejection.reason}",
            markup=False,
        )
    for problem in message_problems(opened.outbox, stored, opened.policy):
        console.print(f"Problem:  {problem}", markup=False)
    console.print("History:", markup=False)
    for entry in stored.history:
        came_from = entry.from_state.value if entry.from_state else "-"
        console.print(
            f"  {entry.at:%d-%m-%Y %H:%M:%S}  {came_from} -> {entry.to_state.value}  "
            f"by {entry.by}  {entry.note}",
            markup=False,
        )
    console.print("")
    console.print(text, markup=False)


def show(
    message: MessageIdArgument,
    home: HomeOption = None,
    *,
    text_only: Annotated[
        bool, typer.Option("--text", help="Print only the plain-text part.")
    ] = False,
    html: Annotated[
        bool, typer.Option("--html", help="Write the HTML part to a file and open it in a browser.")
    ] = False,
    raw: Annotated[
        bool, typer.Option("--raw", help="Print the exact bytes that will be sent.")
    ] = False,
) -> None:
    """Show one message: its details and history, and the letter as parents will read it."""
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
        console.print(f"HTML part written to {target}", markup=False)
        try:
            webbrowser.get()
        except webbrowser.Error:
            console.print("No browser found here; open that file in one.")
        else:
            webbrowser.open(target.as_uri())
        return
    if text_only:
        sys.stdout.write(text)
        return
    _print_overview(opened, stored, text)


def _confirm_all(opened: Opened, yes: bool) -> list[str]:
    pending = [stored.id for stored in opened.outbox.messages(State.PENDING)]
    if not pending:
        return []
    if not yes:
        if not sys.stdin.isatty():
            print_problem("approve --all needs --yes when not run in a terminal")
            raise typer.Exit(2)
        typer.confirm(f"Approve all {len(pending)} pending message(s)?", abort=True)
    return pending


def approve(
    messages: MessageIdsArgument = None,
    home: HomeOption = None,
    *,
    by: ByOption,
    all_pending: Annotated[
        bool, typer.Option("--all", help="Approve every pending message.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    unsigned_template: Annotated[
        bool,
        typer.Option(
            "--unsigned-template",
            help="Approve even though the team has not signed off this template version.",
        ),
    ] = False,
) -> None:
    """Approve messages for sending, under your name. The exact bytes are recorded."""
    opened = open_workspace(home)
    if bool(messages) == all_pending:
        print_problem("give message IDs or --all (not both)")
        raise typer.Exit(2)
    ids = _confirm_all(opened, yes) if all_pending else list(messages or [])
    # `--all` took its IDs from the outbox itself; typed ones may be prefixes.
    resolved: list[str] = list(ids) if all_pending else []
    failures = 0
    for typed in [] if all_pending else ids:
        try:
            resolved.append(opened.outbox.resolve(typed))
        except MailerError as error:
            print_problem(str(error))
            failures += 1
    refused = approve_many(
        opened.outbox, resolved, by, opened.policy, override_template=unsigned_template
    )
    lines = []
    for message_id in resolved:
        if message_id in refused:
            print_problem(str(refused[message_id]))
            failures += 1
        else:
            lines.append(f"approved {message_id} by {by}\n")
    sys.stdout.write("".join(lines))
    if all_pending and not ids:
        console.print("No pending messages.")
    if failures:
        raise typer.Exit(1)


def reject(
    messages: RequiredMessageIdsArgument,
    home: HomeOption = None,
    *,
    reason: Annotated[
        str, typer.Option("--reason", metavar=_("TEXT"), help="Why: kept with the message.")
    ],
    by: ByOption,
) -> None:
    """Reject messages, with a reason, under your name. They will not be sent."""
    opened = open_workspace(home)
    failures = 0
    for typed in messages:
        try:
            message_id = opened.outbox.resolve(typed)
            reject_message(opened.outbox, message_id, by, reason)
        except MailerError as error:
            print_problem(str(error))
            failures += 1
        else:
            console.print(f"rejected {message_id} by {by}", markup=False)
    if failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("list")(list_messages)
    app.command()(show)
    app.command()(approve)
    app.command()(reject)
