"""Commands that send messages and settle what sending left open: send, check, resolve,
retry.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from mailer.cli.common import (
    HomeOption,
    Interrupted,
    MessageIdArgument,
    MessageIdsArgument,
    console,
    default_person,
    open_workspace,
    print_problem,
)
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
from mailer.config import Settings, SmtpAuth
from mailer.errors import MailerError
from mailer.i18n import _
from mailer.outbox.store import State
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
