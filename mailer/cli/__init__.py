"""The `mailer` command line: thin commands over the package, one line per problem.

Exit codes: 0 all went well, 1 some items were invalid or failed, 2 wrong usage.
"""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import OperationalError

from mailer.cli import (
    intake_commands,
    outbox_commands,
    review_commands,
    send_commands,
    signin_commands,
    template_commands,
    web_command,
)
from mailer.cli.common import INTERRUPTED_EXIT_CODE, print_problem
from mailer.errors import MailerError
from mailer.outbox.database import database_problem

__all__ = ["app", "entry", "main"]

app = typer.Typer(
    name="mailer",
    help="Invite parents to the intake meeting, with letters that staff approved before sending.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

for module in (
    intake_commands,
    outbox_commands,
    review_commands,
    send_commands,
    signin_commands,
    template_commands,
    web_command,
):
    module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code instead of raising SystemExit."""
    try:
        # Standalone mode lets Typer print usage errors (exit 2) and "Aborted!" (exit 1) itself;
        # it also turns Ctrl-C into exit code 130 without a word, hence the line below.
        app(args=argv, prog_name="mailer", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        if code == INTERRUPTED_EXIT_CODE and not getattr(exit_.__context__, "explained", False):
            print_problem("Interrupted; the outbox is consistent: run the command again to go on.")
        return code if isinstance(code, int) else (0 if code is None else 1)
    except MailerError as error:
        print_problem(f"error: {error}")
        return 1
    except OperationalError as error:  # the database went away or stayed locked mid-command
        print_problem(f"error: {database_problem(error)}")
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
