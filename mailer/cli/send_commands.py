"""Commands that send and account for messages.

send, check, resolve, retry, log, purge, demo and smtp-server.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from mailer.cli.common import (
    HomeOption,
    Interrupted,
    MessageIdArgument,
    MessageIdsArgument,
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
from mailer.cli.review_commands import list_messages
from mailer.cli.send_output import (
    confirm,
    limits_line,
    print_dry_run,
    print_outcome,
    send_with_progress,
    server_line,
    silence_stdout,
    stop_signals_interrupt,
)
from mailer.clock import AMSTERDAM
from mailer.config import Settings, SmtpAuth
from mailer.errors import MailerError
from mailer.i18n import _, ngettext
from mailer.outbox.purge import plan_purge, purge_planned
from mailer.outbox.store import Outbox, State
from mailer.review.decisions import check_person_name
from mailer.sending.records import resolve_unknown, retry_failed
from mailer.sending.run import check_connections, plan_send
from mailer.sending.smtp_client import check_security, connect, tls_context
from mailer.signin import describe_login

__all__ = ["register"]


def send(
    home: HomeOption = None,
    *,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be sent; open no connection.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Send at most this many messages.")
    ] = None,
    connections: Annotated[
        int,
        typer.Option(
            "--connections",
            min=1,
            max=16,
            help="SMTP connections in parallel (at most the provider's limit).",
        ),
    ] = 1,
) -> None:
    """Send approved messages whose bytes are still exactly what was approved, at the mail
    provider's pace (rate_limit per minute, shared by every `mailer send` on this outbox).

    SIGTERM and SIGHUP stop it as Ctrl-C does; what was not sent stays approved for the next run.
    A message the server refused for good is `failed`: once the cause is solved,
    `mailer retry ID --by NAME` sends it again."""
    opened = open_workspace(home)
    check_security(opened.settings)
    check_connections(opened.settings, connections)
    if dry_run:
        print_dry_run(opened, plan_send(opened.outbox, limit=limit))
        return
    by = default_person()
    with stop_signals_interrupt():
        plan = plan_send(
            opened.outbox,
            limit=limit,
            recover_as=by,
            read_letters=not yes,  # with --yes nobody sees the count first; claims check
        )
        if plan.planned:
            confirm(opened, len(plan.planned), yes)
            try:
                send_with_progress(opened, plan, by, connections)
            except KeyboardInterrupt as stop:
                how = f" by {stop.args[0]}" if stop.args else ""
                raise Interrupted(
                    f"Interrupted{how}: messages not yet on their way were given back, and the "
                    "outcome of any being handed over was recorded; run `mailer send` again to "
                    "go on."
                ) from None
    try:
        print_outcome(plan)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    if not plan.all_well:
        raise typer.Exit(1)


async def _try_login(settings: Settings) -> None:
    client = await connect(settings)
    await client.quit()


def check(
    home: HomeOption = None,
    *,
    smtp: Annotated[
        bool, typer.Option("--smtp", help="Also connect and log in (nothing is sent).")
    ] = False,
) -> None:
    """Check the configuration; with --smtp, also connect to the mail server and log in."""
    opened = open_workspace(home)
    settings = opened.settings
    check_security(settings)
    tls_context(settings)
    if settings.smtp_auth == SmtpAuth.OAUTH2:
        login = f"login {describe_login(settings)}"
    else:
        login = "password " + ("set" if settings.smtp_password.get_secret_value() else "not set")
    console.print(
        f"Configuration OK: sender {settings.sender}, server {server_line(settings)}, {login}.",
        markup=False,
    )
    console.print(limits_line(settings), markup=False)
    if smtp:
        asyncio.run(_try_login(settings))
        console.print(
            f"Connected to {settings.smtp_host}:{settings.smtp_port}"
            f"{' and logged in' if settings.smtp_username else ''}; nothing was sent. "
            f"Login: {describe_login(settings)}.",
            markup=False,
        )


def resolve(
    message: MessageIdArgument,
    home: HomeOption = None,
    *,
    sent: Annotated[bool, typer.Option("--sent", help="It did arrive: record it as sent.")] = False,
    resend: Annotated[
        bool, typer.Option("--resend", help="It did not arrive: send it again (same Message-ID).")
    ] = False,
    by: Annotated[
        str,
        typer.Option(
            "--by", metavar=_("NAME"), help="Your name: the decision is recorded under it."
        ),
    ],
) -> None:
    """Decide about a message whose delivery is unknown."""
    if sent == resend:
        print_problem("give exactly one of --sent or --resend")
        raise typer.Exit(2)
    opened = open_workspace(home)
    message_id = opened.outbox.resolve(message)
    resolve_unknown(opened.outbox, message_id, sent=sent, by=by)
    if sent:
        console.print(f"{message_id} recorded as sent by decision of {by}.", markup=False)
    else:
        console.print(
            f"{message_id} is approved again by decision of {by}; the next `mailer send` sends "
            "it with the same Message-ID.",
            markup=False,
        )


def retry(
    messages: MessageIdsArgument = None,
    home: HomeOption = None,
    *,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Every failed message in the outbox.")
    ] = False,
    by: Annotated[
        str,
        typer.Option(
            "--by", metavar=_("NAME"), help="Your name: the decision is recorded under it."
        ),
    ],
) -> None:
    """Send failed messages again, once the cause is solved (a server or sender setting, an
    address corrected at the server). A message whose bytes are unchanged stays approved: the
    next `mailer send` sends it with the same Message-ID. A changed one goes back for review:
    approve it again first. The history keeps why it failed and who decided to retry. To give
    up on one instead: `mailer reject`."""
    if bool(messages) == all_failed:
        print_problem("give message IDs or --all-failed (not both)")
        raise typer.Exit(2)
    opened = open_workspace(home)
    if all_failed:
        typed = [stored.id for stored in opened.outbox.messages(State.FAILED)]
        if not typed:
            console.print("No failed messages.")
            return
    else:
        typed = list(messages or [])
    failures = 0
    for text in typed:
        try:
            message_id = opened.outbox.resolve(text)
            retried = retry_failed(opened.outbox, message_id, by=by)
        except MailerError as error:
            print_problem(str(error))
            failures += 1
            continue
        if retried.state == State.APPROVED:
            line = _(
                "{id} is approved again (unchanged) by decision of {by}; the next "
                "`mailer send` sends it."
            )
        else:
            line = _(
                "{id} changed since it was approved and is back for review by decision of "
                "{by}; approve it with `mailer approve {id} --by NAME`, then run `mailer send`."
            )
        console.print(line.format(id=message_id, by=by), markup=False)
    if failures:
        raise typer.Exit(1)


def log(
    message: OptionalMessageIdArgument = None,
    home: HomeOption = None,
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Show the audit journal: every state change, by whom, with the server's reply."""
    opened = open_workspace(home)
    message_id = opened.outbox.resolve(message) if message else None
    entries = opened.outbox.journal(message_id)
    if as_json:
        print_json([entry.model_dump(mode="json") for entry in entries])
        return
    if not entries:
        console.print("The journal is empty.")
        return
    rows = [
        [
            format_moment(entry.at, seconds=True),
            entry.message,
            f"{entry.from_state or '-'} -> {entry.to_state}",
            entry.by,
            entry.note,
            entry.reply,
        ]
        for entry in entries
    ]
    print_rows(["time", "message", "change", "by", "note", "reply"], rows, title="Journal")


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
            help="Purge messages finished before this date (also DD-MM-YYYY).",
        ),
    ],
    by: Annotated[
        str | None,
        typer.Option("--by", metavar=_("NAME"), help="Who purges (default: your login name)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be purged; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove the content (letter, names, addresses, previews) of sent, failed and rejected
    messages finished before DATE whose meeting has passed; the journal keeps that they
    existed, without personal data. Asks first on a terminal (--yes otherwise)."""
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
        console.print(f"purged {message_id}", markup=False)
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


def _show_received(messages: list[Any]) -> None:
    console.print(f"{len(messages)} message(s) arrived at the local server:", markup=False)
    for received in messages:
        console.print(
            f"  to {', '.join(received.envelope_to)}: {received.parsed()['Subject']}",
            markup=False,
        )
    if messages:
        from mailer.letters.message import letter_parts  # see `demo`

        text = letter_parts(messages[0].data).text
        if text is not None:
            console.print("\nThe first letter as the parents read it:\n", markup=False)
            console.print(text, markup=False)


def demo(
    directory: Annotated[
        Path,
        typer.Option(
            "--home",
            metavar=_("FOLDER"),
            help="Folder for the demo workspace (replaced each run).",
        ),
    ] = Path("demo-workspace"),
    old_name: Annotated[Path | None, typer.Option("--dir", hidden=True)] = None,
) -> None:
    """Run the whole flow on the bundled examples: queue, approve, send to a local server."""
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
        typer.Option("--store", metavar=_("FOLDER"), help="Folder where messages are kept."),
    ],
    *,
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 8025,
) -> None:
    """Run a local SMTP server on 127.0.0.1 that keeps every message in a folder (no delivery)."""
    # Imported here, not at the top: other commands start without these libraries.
    from mailer.sending.local_server import LocalSmtpServer

    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    with LocalSmtpServer(store, port=port) as server:
        console.print(
            f"Listening on {server.host}:{server.port}; messages are kept in {store} and "
            "delivered to nobody. Stop with Ctrl-C.",
            markup=False,
        )
        stop.wait()
    console.print(f"Stopped after receiving {server.handler.received} message(s).", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    app.command()(send)
    app.command()(check)
    app.command()(resolve)
    app.command()(retry)
    app.command()(log)
    app.command()(purge)
    app.command()(demo)
    app.command("smtp-server")(smtp_server)
