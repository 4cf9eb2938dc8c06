"""The list of commands in `mailer --help`: each with its whole first sentence.

Click shortens a summary to fit the line ("Create a workspace (config/,..."); a summary cut off
in the middle tells a coach nothing, so here each command shows the first sentence of its help in
full, and the help formatter wraps it onto the next line when it is long.
"""

from __future__ import annotations

import inspect

import click
from typer.core import TyperGroup

__all__ = ["SummarisedGroup", "summary_of"]


def summary_of(command: click.Command) -> str:
    """The command's own short help, else the first sentence of its help, on one line."""
    if command.short_help:
        return " ".join(inspect.cleandoc(command.short_help).split())
    text = inspect.cleandoc(command.help or "")
    paragraph = " ".join(text.split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph[: end + 1] if end >= 0 else paragraph


class SummarisedGroup(TyperGroup):
    """A command group whose help lists each command with its full first sentence."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary_of(command)))
        if rows:
            # Click's own word, looked up in our catalog (`mailer.cli.language`).
            with formatter.section(click.core._("Commands")):  # type: ignore[attr-defined]
                formatter.write_dl(rows)
