"""The `mailer` command line: thin commands over the package, one line per problem.

Exit codes: 0 all went well, 1 some items were invalid or failed, 2 wrong usage.
The language (Dutch unless chosen otherwise, see `mailer.cli.language`) is set before the
command modules are imported, because Typer builds their help texts then.
"""

from __future__ import annotations

import os
import sys

from mailer.cli.language import language_for, speak_click_in_our_language
from mailer.i18n import set_language

# Before the imports below: their help texts are put through `_()` as they are imported.
set_language(language_for(sys.argv[1:], os.environ))
speak_click_in_our_language()

from importlib.metadata import PackageNotFoundError, version  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from mailer.cli import (  # noqa: E402
    demo_commands,
    intake_commands,
    journal_commands,
    outbox_commands,
    reading_commands,
    review_commands,
    send_commands,
    signin_commands,
    template_commands,
    web_command,
)
from mailer.cli.common import INTERRUPTED_EXIT_CODE, print_problem  # noqa: E402
from mailer.cli.help_layout import SummarisedGroup, show_arguments_by_name  # noqa: E402
from mailer.errors import MailerError  # noqa: E402
from mailer.i18n import _  # noqa: E402
from mailer.outbox.database import database_problem  # noqa: E402

__all__ = ["app", "entry", "main"]

show_arguments_by_name()
app = typer.Typer(
    name="mailer",
    cls=SummarisedGroup,
    help=_(
        "Invite parents to the intake meeting, with letters that staff approved before sending."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _installed_version() -> str:
    try:
        return version("intake-mailer")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "?"


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(_("mailer {version}").format(version=_installed_version()))
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help=_("Show the version and exit."),
        ),
    ] = False,
) -> None:
    pass


for module in (
    intake_commands,
    outbox_commands,
    reading_commands,
    review_commands,
    send_commands,
    journal_commands,
    demo_commands,
    signin_commands,
    template_commands,
    web_command,
):
    module.register(app)
# The help texts are built; from here on each run chooses its own language (see `main`).
set_language(None)


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code instead of raising SystemExit."""
    arguments = sys.argv[1:] if argv is None else argv
    # Chosen again for each run, so that in one process (tests) each command's own workspace
    # and environment decide.
    set_language(language_for(arguments, os.environ))
    try:
        return _run(arguments)
    finally:
        set_language(None)


def _run(argv: list[str]) -> int:
    try:
        # Standalone mode lets Typer print usage errors (exit 2) and "Aborted!" (exit 1) itself;
        # it also turns Ctrl-C into exit code 130 without a word, hence the line below.
        app(args=argv, prog_name="mailer", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        if code == INTERRUPTED_EXIT_CODE and not getattr(exit_.__context__, "explained", False):
            print_problem(
                _("Interrupted; the outbox is consistent: run the command again to go on.")
            )
        return code if isinstance(code, int) else (0 if code is None else 1)
    except MailerError as error:
        print_problem(_("error: {problem}").format(problem=error))
        return 1
    except OperationalError as error:  # the database went away or stayed locked mid-command
        print_problem(_("error: {problem}").format(problem=database_problem(error)))
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
