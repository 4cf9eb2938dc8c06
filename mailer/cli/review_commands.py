"""Commands for deciding about messages: `approve` and `reject`, under a named person."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mailer.cli.common import (
    HomeOption,
    Opened,
    RequiredMessageIdsArgument,
    console,
    message_id_form,
    open_workspace,
    print_problem,
)
from mailer.errors import ApprovalRefused, MailerError
from mailer.i18n import _, ngettext
from mailer.outbox.store import State, sha256_hex
from mailer.review.decisions import approve_many, check_person_name
from mailer.review.decisions import reject as reject_message
from mailer.review.versions import CODE_LENGTH, is_version_code, made_by, version_code

__all__ = ["register"]

ByOption = Annotated[
    str,
    typer.Option(
        "--by", metavar=_("NAME"), help=_("Your name: the decision is recorded under it.")
    ),
]


def _confirm_all(opened: Opened, yes: bool) -> list[str]:
    pending = [stored.id for stored in opened.outbox.messages(State.PENDING)]
    if not pending:
        return []
    if not yes:
        if not sys.stdin.isatty():
            print_problem(_("approve --all needs --yes when not run in a terminal"))
            raise typer.Exit(2)
        question = ngettext(
            "Approve the {count} pending message?",
            "Approve all {count} pending messages?",
            len(pending),
        ).format(count=len(pending))
        typer.confirm(question, abort=True)
    return pending


def _typed_versions(opened: Opened, typed: list[str]) -> tuple[list[str], dict[str, str], int]:
    """The message IDs of `ID` or `ID@CODE` as typed, the version code given for each, and how
    many could not be read (each said in one line)."""
    resolved: list[str] = []
    codes: dict[str, str] = {}
    failures = 0
    for text in typed:
        prefix, at, code = text.partition("@")
        try:
            message_id = opened.outbox.resolve(prefix)
        except MailerError as error:
            print_problem(str(error))
            failures += 1
            continue
        code = code.strip().lower()
        if at and not is_version_code(code):
            print_problem(
                _(
                    "{typed}: after @ comes the version code of {count} characters that "
                    "`mailer show {id}` prints after 'Version:'"
                ).format(typed=text, count=CODE_LENGTH, id=message_id)
            )
            failures += 1
            continue
        resolved.append(message_id)
        if at:
            codes[message_id] = code
    return resolved, codes, failures


def _version_confirmed(opened: Opened, message_id: str) -> str | None:
    """Show a changed message's recipients and ask whether to approve this version; its
    SHA-256 when the person says yes."""
    stored = opened.outbox.load(message_id)
    current = sha256_hex(opened.outbox.read_bytes(message_id))
    makers = ", ".join(made_by(stored.queued_by, stored.history))
    console.print(
        _("{id} changed after it was first queued (made or changed by {names}).").format(
            id=message_id, names=makers
        ),
        markup=False,
    )
    console.print("  " + _("To:       {to}").format(to=", ".join(stored.to)), markup=False)
    console.print("  " + _("Subject:  {subject}").format(subject=stored.subject), markup=False)
    console.print(
        "  "
        + _("Meeting:  {when} ({child})").format(
            when=f"{stored.meeting_at:%d-%m-%Y %H:%M}", child=stored.child_name
        ),
        markup=False,
    )
    console.print("  " + _("Version:  {code}").format(code=version_code(current)), markup=False)
    question = _("Approve this version for these recipients?")
    return current if typer.confirm(question, default=False) else None


def _unseen_change(error: MailerError | None) -> bool:
    return isinstance(error, ApprovalRefused) and error.rule == "unseen_change"


def _approve_all(opened: Opened, by: str, yes: bool, unsigned_template: bool) -> None:
    pending = _confirm_all(opened, yes)
    if not pending:
        console.print(_("No pending messages."), markup=False)
        return
    refused = approve_many(
        opened.outbox, pending, by, opened.policy, override_template=unsigned_template
    )
    # Left for a person to read one by one, named together in one line.
    left = [message_id for message_id in pending if _unseen_change(refused.get(message_id))]
    lines: list[str] = []
    for message_id in pending:
        error = refused.get(message_id)
        if error is None:
            lines.append(_("approved {id} by {by}").format(id=message_id, by=by) + "\n")
        elif not _unseen_change(error):
            print_problem(str(error))
    sys.stdout.write("".join(lines))
    if left:
        print_problem(
            ngettext(
                "{count} message was left pending because it changed after it was first "
                "queued ({ids}): read it with `mailer show ID` and approve it as "
                "`mailer approve ID@CODE`",
                "{count} messages were left pending because they changed after they were first "
                "queued ({ids}): read each with `mailer show ID` and approve it as "
                "`mailer approve ID@CODE`",
                len(left),
            ).format(count=len(left), ids=", ".join(left))
        )
    if refused:
        raise typer.Exit(1)


def message_version_form(value: str) -> str:
    """`ID` or `ID@CODE` as typed: the ID part is checked as usage (exit 2); the code is checked
    against the message once the outbox is open."""
    message_id, at, code = value.partition("@")
    return message_id_form(message_id) + at + code.strip()


def approve(
    messages: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ID...",
            parser=message_version_form,
            help=_(
                "Message IDs (their first characters are enough when they are unique), each "
                "optionally as ID@CODE with the version code that `mailer show` prints."
            ),
            show_default=False,
        ),
    ] = None,
    home: HomeOption = None,
    *,
    by: ByOption,
    all_pending: Annotated[
        bool,
        typer.Option(
            "--all",
            help=_("Approve every pending message that did not change since it was queued."),
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help=_("Do not ask for confirmation."))
    ] = False,
    unsigned_template: Annotated[
        bool,
        typer.Option(
            "--unsigned-template",
            help=_("Approve even though the team has not signed off this template version."),
        ),
    ] = False,
) -> None:
    """Approve messages for sending (see `register` for the help text)."""
    opened = open_workspace(home)
    if bool(messages) == all_pending:
        print_problem(_("give message IDs or --all (not both)"))
        raise typer.Exit(2)
    by = check_person_name(by)
    if all_pending:
        _approve_all(opened, by, yes, unsigned_template)
        return
    resolved, codes, failures = _typed_versions(opened, list(messages or []))
    refused = approve_many(
        opened.outbox,
        resolved,
        by,
        opened.policy,
        shown=codes,
        override_template=unsigned_template,
    )
    lines: list[str] = []
    for message_id in resolved:
        error = refused.get(message_id)
        if _unseen_change(error) and sys.stdin.isatty():
            sys.stdout.write("".join(lines))
            lines = []
            confirmed = _version_confirmed(opened, message_id)
            if confirmed is not None:
                again = approve_many(
                    opened.outbox,
                    [message_id],
                    by,
                    opened.policy,
                    shown={message_id: confirmed},
                    override_template=unsigned_template,
                )
                error = again.get(message_id)
        if error is None:
            lines.append(_("approved {id} by {by}").format(id=message_id, by=by) + "\n")
        else:
            print_problem(str(error))
            failures += 1
    sys.stdout.write("".join(lines))
    if failures:
        raise typer.Exit(1)


def reject(
    messages: RequiredMessageIdsArgument,
    home: HomeOption = None,
    *,
    reason: Annotated[
        str, typer.Option("--reason", metavar=_("TEXT"), help=_("Why: kept with the message."))
    ],
    by: ByOption,
) -> None:
    """Reject messages (see `register` for the help text)."""
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
            console.print(_("rejected {id} by {by}").format(id=message_id, by=by), markup=False)
    if failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    app.command(
        help=_(
            "Approve messages for sending, under your name. The exact bytes are recorded.\n\n"
            "A message that changed after it was first queued is approved as ID@CODE, with the "
            "version code `mailer show ID` prints, or after you confirm its recipients on a "
            "terminal."
        )
    )(approve)
    app.command(help=_("Reject messages, with a reason, under your name. They will not be sent."))(
        reject
    )
