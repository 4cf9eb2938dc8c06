"""Commands for the team's work on the letter: template check/preview/approve, rerender, cancel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailer.cli.common import (
    HomeOption,
    MessageIdArgument,
    MessageIdsArgument,
    console,
    default_person,
    open_workspace,
    print_problem,
)
from mailer.cli.help_layout import SummarisedGroup
from mailer.errors import MailerError
from mailer.i18n import _, ngettext
from mailer.letters.template_signoff import read_signoffs, sign_off
from mailer.outbox.store import State

if TYPE_CHECKING:
    from mailer.letters.context import LetterKind
    from mailer.outbox.rescheduling import Change

__all__ = ["register"]

template_app = typer.Typer(
    cls=SummarisedGroup,
    help=_("Check, preview and sign off the letter templates."),
    no_args_is_help=True,
    rich_markup_mode=None,
)

ByOption = Annotated[
    str | None,
    typer.Option("--by", metavar=_("NAME"), help=_("Who does this (default: your login name).")),
]


def _say(text: str) -> None:
    console.print(text, markup=False)


@template_app.command(
    "check",
    help=_("Render every template in every language with sample data and report each problem."),
)
def check(home: HomeOption = None) -> None:
    """Check the templates (the help text is given above)."""
    # Imported here, not at the top: other commands start without the letter's libraries.
    from mailer.letters.template_review import check_templates, languages
    from mailer.letters.template_signoff import template_version

    opened = open_workspace(home)
    issues = check_templates(opened.workspace, opened.settings)
    for issue in issues:
        print_problem(str(issue))
    if issues:
        print_problem(
            ngettext(
                "{count} problem; correct the template and check again.",
                "{count} problems; correct the templates and check again.",
                len(issues),
            ).format(count=len(issues))
        )
        raise typer.Exit(1)
    version = template_version(opened.workspace.templates_dir)
    found = ", ".join(languages(opened.workspace.templates_dir))
    signers = [item.by for item in read_signoffs(opened.workspace) if item.version == version]
    status = (
        _("signed off by {names}").format(names=", ".join(signers))
        if signers
        else _("not signed off yet: share the preview, then `mailer template approve --by NAME`")
    )
    _say(
        _("Templates are fine in {languages}; version {version}, {status}.").format(
            languages=found, version=version, status=status
        )
    )


@template_app.command(
    "preview",
    help=_("Write the letter with sample data as HTML, text and PDF, to share with the team."),
)
def preview(
    home: HomeOption = None,
    *,
    lang: Annotated[
        list[str] | None,
        typer.Option("--lang", metavar="nl|en", help=_("nl or en (default: every language).")),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", metavar=_("FOLDER"), help=_("Folder for the preview files."))
    ] = Path("preview"),
    kind: Annotated[
        str,
        typer.Option(
            "--kind", metavar="invitation|update|cancellation", help=_("The kind of letter.")
        ),
    ] = "invitation",
) -> None:
    """Write a preview of the letter (the help text is given above)."""
    # Imported here, not at the top: other commands start without the letter's libraries.
    from mailer.letters.template_review import languages, write_preview

    opened = open_workspace(home)
    available = languages(opened.workspace.templates_dir)
    chosen = lang or available
    unknown = [language for language in chosen if language not in available]
    if unknown or kind not in ("invitation", "update", "cancellation"):
        wrong = f"--lang {unknown[0]}" if unknown else f"--kind {kind}"
        print_problem(
            _(
                "{wrong}: not available; choose from {languages} and invitation, update or "
                "cancellation"
            ).format(wrong=wrong, languages=", ".join(available))
        )
        raise typer.Exit(2)
    letter_kind: LetterKind = kind  # type: ignore[assignment]  # checked just above
    for language in chosen:
        written = write_preview(opened.workspace, opened.settings, language, out, kind=letter_kind)
        files = ", ".join(str(path) for path in written)
        _say(_("{language}: wrote {files}").format(language=language, files=files))
        if not any(path.suffix == ".pdf" for path in written):
            _say(
                _(
                    "{language}: no PDF (no Chromium found); open the .html file and print it."
                ).format(language=language)
            )


@template_app.command(
    "approve", help=_("Record the team's sign-off of the current template version.")
)
def approve_template(
    home: HomeOption = None,
    *,
    by: Annotated[
        str, typer.Option("--by", metavar=_("NAME"), help=_("Who signs off for the team."))
    ],
) -> None:
    """Sign off the templates (the help text is given above)."""
    # Imported here, not at the top: other commands start without the letter's libraries.
    from mailer.letters.template_review import check_templates

    opened = open_workspace(home)
    issues = check_templates(opened.workspace, opened.settings)
    if issues:
        for issue in issues:
            print_problem(str(issue))
        print_problem(_("Not signed off: correct these problems first (`mailer template check`)."))
        raise typer.Exit(1)
    version = sign_off(opened.workspace, by)
    _say(
        _("Template version {version} signed off by {person}.").format(
            version=version, person=by.strip()
        )
    )
    older = [
        message.id
        for message in opened.outbox.messages()
        if message.state in {State.PENDING, State.APPROVED} and message.template_version != version
    ]
    if older:
        _say(
            ngettext(
                "{count} message waiting for review uses an older version; "
                "`mailer rerender --all-pending` renders it with this one.",
                "{count} messages waiting for review use an older version; "
                "`mailer rerender --all-pending` renders them with this one.",
                len(older),
            ).format(count=len(older))
        )


def _describe(change: Change) -> str:
    from mailer.web.texts import note_in_words  # the journal's notes as the page words them

    message = change.message
    if change.action == "unchanged":
        return _("{id}: unchanged").format(id=message.id)
    if change.action == "cancelled":
        return _("{id}: cancellation queued for {child}; review it with `mailer show {id}`").format(
            id=message.id, child=message.child_name
        )
    if change.note and message.history:
        return f"{message.id}: {note_in_words(message.history[-1])}"
    return f"{message.id}: {change.note or change.action}"


def rerender_command(
    ids: MessageIdsArgument = None,
    home: HomeOption = None,
    *,
    all_pending: Annotated[
        bool,
        typer.Option("--all-pending", help=_("Every message not sent yet (pending, approved).")),
    ] = False,
    by: ByOption = None,
) -> None:
    """Render messages again (see `register` for the help text)."""
    # Imported here, not at the top: other commands start without the letter's libraries.
    from mailer.letters.compose import Composer
    from mailer.letters.rendering import LetterRenderer
    from mailer.outbox.rescheduling import rerender

    opened = open_workspace(home)
    if bool(ids) == all_pending:
        print_problem(_("give message IDs or --all-pending (not both)"))
        raise typer.Exit(2)
    if all_pending:
        chosen = [
            message.id
            for message in opened.outbox.messages()
            if message.state in {State.PENDING, State.APPROVED}
        ]
    else:
        chosen = [opened.outbox.resolve(typed) for typed in ids or []]
    composer = Composer(opened.settings, LetterRenderer(opened.workspace.templates_dir))
    failed = 0
    for message_id in chosen:
        try:
            _say(_describe(rerender(opened.outbox, composer, message_id, by or default_person())))
        except MailerError as error:
            print_problem(str(error))
            failed += 1
    _say(
        ngettext(
            "{count} message checked, {failed} could not be rendered.",
            "{count} messages checked, {failed} could not be rendered.",
            len(chosen) - failed,
        ).format(count=len(chosen) - failed, failed=failed)
    )
    if failed:
        raise typer.Exit(1)


def cancel_command(
    message_id: MessageIdArgument,
    home: HomeOption = None,
    *,
    by: ByOption = None,
) -> None:
    """Queue a cancellation (see `register` for the help text)."""
    # Imported here, not at the top: other commands start without the letter's libraries.
    from mailer.letters.compose import Composer
    from mailer.letters.rendering import LetterRenderer
    from mailer.outbox.rescheduling import cancel_meeting

    opened = open_workspace(home)
    composer = Composer(opened.settings, LetterRenderer(opened.workspace.templates_dir))
    resolved = opened.outbox.resolve(message_id)
    change = cancel_meeting(opened.outbox, composer, resolved, by or default_person())
    _say(_describe(change))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
    app.add_typer(template_app, name="template")
    app.command(
        "rerender", help=_("Render messages again after the template or the configuration changed.")
    )(rerender_command)
    app.command(
        "cancel",
        help=_(
            "Queue a cancellation of a sent invitation; like every message it waits for approval."
        ),
    )(cancel_command)
