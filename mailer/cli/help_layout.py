"""How `mailer --help` and each command's help look.

Click shortens a summary to fit the line ("Create a workspace (config/,..."); a summary cut off
in the middle tells a coach nothing, so each command shows the first sentence of its help in
full, wrapped onto the next line when it is long. Typer writes Python type names beside each
argument (`ID <list[str]>`, `--port <int range>`) and braces around required ones in the usage line
(`{file}`); here an argument is shown by its name alone (`ID...`, `FILE`), and an option by its
metavar or a plain word for its value (`--by NAME`, `--port NUMBER`).
"""

from __future__ import annotations

import inspect

from typer._click.core import Command, Context
from typer._click.formatting import HelpFormatter
from typer.core import TyperArgument, TyperGroup, TyperOption

from mailer.i18n import _

__all__ = ["SummarisedGroup", "show_arguments_by_name", "summary_of"]


def summary_of(command: Command) -> str:
    """The command's own short help, else the first sentence of its help, on one line."""
    if command.short_help:
        return " ".join(inspect.cleandoc(command.short_help).split())
    text = inspect.cleandoc(command.help or "")
    paragraph = " ".join(text.split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph[: end + 1] if end >= 0 else paragraph


class SummarisedGroup(TyperGroup):
    """A command group whose help lists each command with its full first sentence."""

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary_of(command)))
        if rows:
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)


def _argument_without_type(self: TyperArgument, ctx: Context) -> str | None:
    return None


def _argument_name(self: TyperArgument) -> str:
    return self.metavar or (self.name or "").upper()


def _option_value(self: TyperOption, ctx: Context) -> str | None:
    """The option's metavar, else a word for the kind of value it takes (not a type name)."""
    if self.metavar is not None:
        return self.metavar
    described = self.type_descriptor
    if described.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in described.choices or ()) + "]"
    if described.is_path:
        return _("PATH")
    if described.annotation in (int, float):
        return _("NUMBER")
    return _("TEXT")


def _argument_in_usage(self: TyperArgument) -> str:
    name = self.display_name_raw
    if self.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if self.required else f"[{name}]"


def _no_range(self: object) -> None:
    return None


def show_arguments_by_name() -> None:
    """Show arguments as `ID...` in help and usage lines (see the module docstring)."""
    TyperArgument.display_type_rich = _argument_without_type  # type: ignore[method-assign,assignment]
    TyperArgument._usage_display_name = _argument_in_usage  # type: ignore[method-assign]
    TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[assignment,method-assign]
    TyperOption.display_type_rich = _option_value  # type: ignore[method-assign]
    # `0<=x<=65535` is notation, not words: a help text that needs a range says it.
    TyperOption._get_number_range_help_str = _no_range  # type: ignore[method-assign]
    TyperArgument._get_number_range_help_str = _no_range  # type: ignore[method-assign]
