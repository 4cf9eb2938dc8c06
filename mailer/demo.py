"""The whole flow on the bundled examples, with no account and no network: queue, review, sign off,
approve as "demo", send to a local SMTP server of our own, and show what the parents received.

The demo only ever deletes a folder that carries its own marker file.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from mailer.config import Settings, load_settings
from mailer.errors import WorkspaceError
from mailer.i18n import _, ngettext
from mailer.intake.files import canonical_column
from mailer.intake.records import parse_date_as_written
from mailer.letters.compose import Composer
from mailer.letters.rendering import LetterRenderer
from mailer.letters.template_signoff import sign_off
from mailer.outbox.queueing import queue_file
from mailer.outbox.store import Outbox, State
from mailer.review.decisions import approve, review_policy
from mailer.sending.local_server import LocalSmtpServer, ReceivedMessage, read_received
from mailer.sending.run import SendReport, send_approved
from mailer.workspace import Workspace, defaults_root, init_workspace

__all__ = [
    "DEMO_MARKER",
    "DemoResult",
    "move_meetings_forward",
    "prepare_demo_workspace",
    "run_demo",
]

DEMO_MARKER = ".mailer-demo"
DEMO_PERSON = "demo"


@dataclass(frozen=True)
class DemoResult:
    workspace: Workspace
    report: SendReport
    received: list[ReceivedMessage]
    weeks_moved: int


def prepare_demo_workspace(directory: Path) -> Workspace:
    """A fresh workspace in `directory`, replacing an earlier demo but nothing else."""
    if directory.exists():
        if not (directory / DEMO_MARKER).is_file():
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
            else:
                raise WorkspaceError(
                    _(
                        "{folder} exists and was not made by `mailer demo`; it is left alone: "
                        "choose another folder with --home"
                    ).format(folder=directory)
                )
        else:
            shutil.rmtree(directory)
    workspace, _created = init_workspace(directory)
    (workspace.root / DEMO_MARKER).write_text(
        "Made by `mailer demo`; the next demo replaces this folder.\n", encoding="utf-8"
    )
    return workspace


def move_meetings_forward(source: Path, target: Path, today: date) -> int:
    """Copy the example file, moving every meeting forward by the same whole number of weeks so
    that the earliest is at least a week after `today` (weekdays stay the same); return the
    number of weeks."""
    text = source.read_text(encoding="utf-8-sig")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    rows = list(csv.reader(io.StringIO(text), delimiter=dialect.delimiter))
    column = next(i for i, name in enumerate(rows[0]) if canonical_column(name) == "meeting_date")
    dates = [parsed for row in rows[1:] if (parsed := parse_date_as_written(row[column]))]
    earliest = min(found for found, _ in dates)
    weeks = max(0, -(-((today + timedelta(days=7)) - earliest).days // 7))
    for row in rows[1:]:
        parsed = parse_date_as_written(row[column])
        if parsed:
            row[column] = (parsed[0] + timedelta(weeks=weeks)).strftime(parsed[1])
    output = io.StringIO()
    csv.writer(output, delimiter=dialect.delimiter, lineterminator="\n").writerows(rows)
    target.write_text(output.getvalue(), encoding="utf-8")
    return weeks


def _local_settings(workspace: Workspace, port: int) -> Settings:
    # The demo always talks to its own server, whatever MAILER_SMTP_* say.
    return load_settings(
        workspace.root,
        overrides={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_username": "",
            "rate_limit": 0,
        },
    )


def run_demo(
    directory: Path,
    say: Callable[[str], None],
    show_outbox: Callable[[Outbox], None],
    today: date | None = None,
) -> DemoResult:
    """Run the demo in `directory`; `say` prints one line, `show_outbox` shows the outbox."""
    workspace = prepare_demo_workspace(directory)
    say(_("Demo workspace: {folder}").format(folder=workspace.root))
    intakes = workspace.root / "intakes-demo.csv"
    weeks = move_meetings_forward(
        defaults_root() / "examples" / "intakes.csv", intakes, today or date.today()
    )
    if weeks:
        moved = ngettext(
            "The example meetings were moved {weeks} week forward, into {file}.",
            "The example meetings were moved {weeks} weeks forward, into {file}.",
            weeks,
        )
    else:
        moved = _("The example meetings lie more than a week ahead; copied unchanged to {file}.")
    say(moved.format(weeks=weeks, file=intakes.name))
    settings = load_settings(workspace.root)
    outbox = Outbox.of_workspace(workspace, settings)
    composer = Composer(settings, LetterRenderer(workspace.templates_dir))
    queued = queue_file(intakes, outbox, composer, DEMO_PERSON)
    say(
        ngettext(
            "Queued {count} invitation; nothing is sent before approval:",
            "Queued {count} invitations; nothing is sent before approval:",
            queued.queued_count,
        ).format(count=queued.queued_count)
    )
    show_outbox(outbox)
    version = sign_off(workspace, DEMO_PERSON)
    say(
        _("Template version {version} signed off by {person}.").format(
            version=version, person=DEMO_PERSON
        )
    )
    policy = review_policy(workspace, settings)
    for stored in outbox.messages(State.PENDING):
        approve(outbox, stored.id, DEMO_PERSON, policy)
    say(
        ngettext(
            "Approved {count} message as {person}.",
            "Approved {count} messages as {person}.",
            queued.queued_count,
        ).format(count=queued.queued_count, person=DEMO_PERSON)
    )
    received_dir = workspace.root / "received"
    with LocalSmtpServer(received_dir) as server:
        say(
            _("Local SMTP server on {host}:{port}, storing in {folder}.").format(
                host=server.host, port=server.port, folder=received_dir
            )
        )
        report = send_approved(outbox, _local_settings(workspace, server.port), by=DEMO_PERSON)
    say(_("Send result: {summary}").format(summary=report.summary()))
    return DemoResult(workspace, report, read_received(received_dir), weeks)
