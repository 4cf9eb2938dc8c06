"""What `mailer send` prints and how it stops: the plan of a dry run, the confirmation, one line
per message (plain when not on a terminal, where the reader may go away: `| head`), the summary,
and SIGTERM/SIGHUP handled as Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mailer.cli.common import Opened, console, print_problem
from mailer.clock import now_in_amsterdam
from mailer.config import Settings
from mailer.i18n import _, ngettext
from mailer.sending.delivery import Outcome
from mailer.sending.run import NOT_SENT, SendEvent, SendReport, send_approved

__all__ = [
    "STOP_SIGNALS",
    "confirm",
    "limits_line",
    "pace_line",
    "print_dry_run",
    "print_outcome",
    "send_with_progress",
    "server_line",
    "silence_stdout",
    "stop_line",
    "stop_signals_interrupt",
]

# Stopping `mailer send` by these (a closed terminal, `kill`, a service manager) is Ctrl-C.
# Windows has no SIGHUP (closing its console window sends Ctrl-C's own event).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt, as SIGINT does; during the run itself
    `send_approved` handles them inside its event loop."""

    def interrupt(number: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(number).name)

    previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def silence_stdout() -> None:
    """The reader of our output went away (`mailer send | head`): the run goes on and records
    every outcome; further output goes nowhere instead of raising BrokenPipeError."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _write_line(text: str) -> None:
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()  # one line per message, as it happens, for whoever follows along
    except BrokenPipeError:
        silence_stdout()


def server_line(settings: Settings) -> str:
    security = {"none": _("no encryption"), "tls": "TLS", "starttls": "STARTTLS"}
    protection = security[settings.smtp_security.value]
    if settings.smtp_username:
        return _("{host}:{port} ({security}) as {user}").format(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=protection,
            user=settings.smtp_username,
        )
    return f"{settings.smtp_host}:{settings.smtp_port} ({protection})"


def print_dry_run(opened: Opened, plan: SendReport) -> None:
    for message_id in plan.planned:
        stored = opened.outbox.load(message_id)
        console.print(
            _("would send {id} to {to}: {subject}").format(
                id=message_id, to=", ".join(stored.to), subject=stored.subject
            ),
            markup=False,
        )
    console.print(
        ngettext(
            "Would send {count} message via {server}; nothing was sent and no connection was "
            "opened.",
            "Would send {count} messages via {server}; nothing was sent and no connection was "
            "opened.",
            len(plan.planned),
        ).format(count=len(plan.planned), server=server_line(opened.settings)),
        markup=False,
    )


def confirm(opened: Opened, count: int, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        print_problem(_("send needs --yes when not run in a terminal; try `mailer send --dry-run`"))
        raise typer.Exit(2)
    question = ngettext(
        "Send {count} approved message via {server}?",
        "Send {count} approved messages via {server}?",
        count,
    )
    typer.confirm(question.format(count=count, server=server_line(opened.settings)), abort=True)


def _event_line(event: SendEvent) -> str:
    # "sent" is the core's word for the usual case; other details carry the server's words.
    detail = _("sent") if event.detail == "sent" else event.detail
    return f"{event.message_id}  {detail}"


def limits_line(settings: Settings) -> str:
    """The sending mailbox's limits as `mailer send` will keep them (for `mailer check`)."""
    if settings.rate_limit:
        pace = _("{rate:g} messages per minute").format(rate=settings.rate_limit)
    else:
        pace = _("no pace limit")
    if settings.daily_recipient_limit:
        cap = _("at most {cap} recipients a day").format(cap=settings.daily_recipient_limit)
    else:
        cap = _("no daily cap")
    if settings.smtp_max_connections:
        most = _("at most {most} connections").format(most=settings.smtp_max_connections)
    else:
        most = _("any number of connections")
    return _("Pace for this mailbox, over every `mailer send`: {pace}, {cap}, {most}.").format(
        pace=pace, cap=cap, most=most
    )


def pace_line(settings: Settings, count: int) -> str:
    """The pace of this run and when it should end, for a long unattended run's log."""
    if not settings.rate_limit:
        return ngettext(
            "Sending {count} message, no pace limit.",
            "Sending {count} messages, no pace limit.",
            count,
        ).format(count=count)
    minutes = count / settings.rate_limit
    end = now_in_amsterdam() + timedelta(minutes=minutes)
    return ngettext(
        "Sending {count} message at {rate:g} per minute: ready around {end:%H:%M} "
        "(Ctrl-C stops safely; `mailer send` goes on later).",
        "Sending {count} messages at {rate:g} per minute: ready around {end:%H:%M} "
        "(Ctrl-C stops safely; `mailer send` goes on later).",
        count,
    ).format(count=count, rate=settings.rate_limit, end=end)


def send_with_progress(opened: Opened, plan: SendReport, by: str, connections: int) -> None:
    def send(progress: Any) -> None:
        send_approved(
            opened.outbox,
            opened.settings,
            by=by,
            connections=connections,
            progress=progress,
            plan=plan,
            stop_signals=STOP_SIGNALS,
        )

    if not console.is_terminal:
        # Plain lines for logs and pipes; Rich would render each one, thousands of times.
        _write_line(pace_line(opened.settings, len(plan.planned)))
        send(lambda event: _write_line(_event_line(event)))
        return
    console.print(pace_line(opened.settings, len(plan.planned)), markup=False)
    rate = opened.settings.rate_limit
    pace = _("{rate:g}/min").format(rate=rate) if rate else _("no limit")
    columns = (
        TextColumn(_("Sending")),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(pace),
        TimeElapsedColumn(),
        TextColumn(_("left")),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("send", total=len(plan.planned))

        def advance(event: SendEvent) -> None:
            bar.advance(task)
            if event.outcome != "sent" or event.detail != "sent":
                bar.console.print(_event_line(event), markup=False)

        send(advance)


def print_outcome(plan: SendReport) -> None:
    for message_id in plan.recovered:
        print_problem(
            _(
                "{id}: its sender stopped while sending; it is now unknown: decide with "
                "`mailer resolve {id} --sent` or `--resend --by NAME`"
            ).format(id=message_id)
        )
    if plan.stopped:
        print_problem(stop_line(plan))
    if plan.throttled:
        console.print(
            ngettext(
                "The server asked once to slow down; the run slowed down and went on.",
                "The server asked {count} times to slow down; the run slowed down and went on.",
                plan.throttled,
            ).format(count=plan.throttled),
            markup=False,
        )
    console.print(plan.summary(), markup=False)


def stop_line(plan: SendReport) -> str:
    """Why the run stopped, how many were sent, that the rest stay approved, and when to go on."""
    sent = len(plan.ids(Outcome.SENT))
    left = plan.skipped.get(NOT_SENT, 0)
    line = _("Stopped: {reason}. {sent} sent; {left} not sent stay approved").format(
        reason=plan.stopped, sent=sent, left=left
    )
    if plan.resume_at is not None:
        when = plan.resume_at.strftime("%d-%m-%Y %H:%M")
        line += _(": run `mailer send` again after {when}.").format(when=when)
    else:
        line += _(": run `mailer send` again once that is solved.")
    return line
