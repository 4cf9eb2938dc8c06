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
from mailer.i18n import _, ngettext, state_name
from mailer.outbox.models import HistoryEntry, JournalEntry
from mailer.outbox.purge import plan_purge, purge_planned
from mailer.outbox.store import Outbox, State
from mailer.review.decisions import check_person_name
from mailer.sending.records import resolve_unknown, retry_failed
from mailer.sending.run import check_connections, plan_send
from mailer.sending.smtp_client import check_security, connect, hang_up, tls_context
from mailer.signin import describe_login

__all__ = ["register"]


def send(
    home: HomeOption = None,
    *,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help=_("Say what would be sent; open no connection."))
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help=_("Do not ask for confirmation."))
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=1, metavar=_("NUMBER"), help=_("Send at most this many messages.")
        ),
    ] = None,
    connections: Annotated[
        int,
        typer.Option(
            "--connections",
            min=1,
            max=16,
            metavar=_("NUMBER"),
            help=_("SMTP connections in parallel (at most the provider's limit)."),
        ),
    ] = 1,
) -> None:
    """Send the approved messages (see `register` for the help text)."""
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
                if stop.args:
                    stopped = _("Interrupted by {signal}").format(signal=stop.args[0])
                else:
                    stopped = _("Interrupted")
                raise Interrupted(
                    _(
                        "{stopped}: messages not yet on their way were given back, and the "
                        "outcome of any being handed over was recorded; run `mailer send` again "
                        "to go on."
                    ).format(stopped=stopped)
                ) from None
    try:
        print_outcome(plan)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    if not plan.all_well:
        raise typer.Exit(1)


async def _try_login(settings: Settings) -> None:
    await hang_up(await connect(settings))


def check(
    home: HomeOption = None,
    *,
    smtp: Annotated[
        bool, typer.Option("--smtp", help=_("Also connect and log in (nothing is sent)."))
    ] = False,
) -> None:
    """Check the configuration (see `register` for the help text)."""
    opened = open_workspace(home)
    settings = opened.settings
    check_security(settings)
    tls_context(settings)
    if settings.smtp_auth == SmtpAuth.OAUTH2:
        login = _("login {how}").format(how=describe_login(settings))
    elif settings.smtp_password.get_secret_value():
        login = _("password set")
    else:
        login = _("password not set")
    console.print(
        _("Configuration OK: sender {sender}, server {server}, {login}.").format(
            sender=settings.sender, server=server_line(settings), login=login
        ),
        markup=False,
    )
    console.print(limits_line(settings), markup=False)
    if smtp:
        asyncio.run(_try_login(settings))
        if settings.smtp_username:
            connected = _(
                "Connected to {host}:{port} and logged in; nothing was sent. Login: {how}."
            )
        else:
            connected = _("Connected to {host}:{port}; nothing was sent. Login: {how}.")
        console.print(
            connected.format(
                host=settings.smtp_host, port=settings.smtp_port, how=describe_login(settings)
            ),
            markup=False,
        )


def resolve(
    message: MessageIdArgument,
    home: HomeOption = None,
    *,
    sent: Annotated[
        bool, typer.Option("--sent", help=_("It did arrive: record it as sent."))
    ] = False,
    resend: Annotated[
        bool,
        typer.Option("--resend", help=_("It did not arrive: send it again (same Message-ID).")),
    ] = False,
    by: Annotated[
        str,
        typer.Option(
            "--by", metavar=_("NAME"), help=_("Your name: the decision is recorded under it.")
        ),
    ],
) -> None:
    """Decide about an unknown delivery (see `register` for the help text)."""
    if sent == resend:
        print_problem(_("give exactly one of --sent or --resend"))
        raise typer.Exit(2)
    opened = open_workspace(home)
    message_id = opened.outbox.resolve(message)
    resolve_unknown(opened.outbox, message_id, sent=sent, by=by)
    if sent:
        console.print(
            _("{id} recorded as sent by decision of {by}.").format(id=message_id, by=by),
            markup=False,
        )
    else:
        console.print(
            _(
                "{id} is approved again by decision of {by}; the next `mailer send` sends it "
                "with the same Message-ID."
            ).format(id=message_id, by=by),
            markup=False,
        )


def retry(
    messages: MessageIdsArgument = None,
    home: HomeOption = None,
    *,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help=_("Every failed message in the outbox."))
    ] = False,
    by: Annotated[
        str,
        typer.Option(
            "--by", metavar=_("NAME"), help=_("Your name: the decision is recorded under it.")
        ),
    ],
) -> None:
    """Send failed messages again (see `register` for the help text)."""
    if bool(messages) == all_failed:
        print_problem(_("give message IDs or --all-failed (not both)"))
        raise typer.Exit(2)
    opened = open_workspace(home)
    if all_failed:
        typed = [stored.id for stored in opened.outbox.messages(State.FAILED)]
        if not typed:
            console.print(_("No failed messages."), markup=False)
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
            "Send approved messages whose bytes are still exactly what was approved, at the "
            "mail provider's pace (rate_limit per minute, shared by every `mailer send` on this "
            "outbox).\n\n"
            "SIGTERM and SIGHUP stop it as Ctrl-C does; what was not sent stays approved for "
            "the next run. A message the server refused for good is `failed`: once the cause is "
            "solved, `mailer retry ID --by NAME` sends it again."
        )
    )(send)
    app.command(
        help=_("Check the configuration; with --smtp, also connect to the mail server and log in.")
    )(check)
    app.command(help=_("Decide about a message whose delivery is unknown."))(resolve)
    app.command(
        help=_(
            "Send failed messages again, once the cause is solved (a server or sender setting, "
            "an address corrected at the server). A message whose bytes are unchanged stays "
            "approved: the next `mailer send` sends it with the same Message-ID. A changed one "
            "goes back for review: approve it again first. The history keeps why it failed and "
            "who decided to retry. To give up on one instead: `mailer reject`."
        )
    )(retry)
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
