"""Which language the command line speaks, chosen before its help texts are built.

Typer builds every help text when the command modules are imported, so the language has to be
known first. It comes, strongest first, from `MAILER_UI_LANGUAGE`, the workspace's `.env`, and
`ui_language` in its `config/settings.toml` (the workspace named by `--home`, else `MAILER_HOME`,
else the current folder), else Dutch: the same order as every other setting. A file that cannot
be read is skipped here; the command itself reports it in the language found so far.

Typer's own words ("Usage:", "Missing argument") are put through the same catalog.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import typer.core
from dotenv import dotenv_values
from typer._click.core import Command, Context
from typer._click.exceptions import BadParameter, MissingParameter, NoSuchOption, UsageError
from typer._click.formatting import HelpFormatter
from typer._click.utils import echo

from mailer.i18n import DEFAULT_LANGUAGE, LANGUAGES, _
from mailer.workspace import HOME_VARIABLE

__all__ = ["TYPER_TEXTS", "home_on_command_line", "language_for", "speak_click_in_our_language"]

LANGUAGE_VARIABLE = "MAILER_UI_LANGUAGE"


def home_on_command_line(argv: Sequence[str]) -> Path | None:
    """The folder after `--home` (or `--home=FOLDER`), if the command line names one."""
    for index, argument in enumerate(argv):
        if argument == "--home" and index + 1 < len(argv):
            return Path(argv[index + 1])
        if argument.startswith("--home="):
            return Path(argument.removeprefix("--home="))
    return None


def _known(value: object) -> str | None:
    text = str(value or "").strip().lower()
    return text if text in LANGUAGES else None


def _from_settings_file(root: Path) -> str | None:
    try:
        with (root / "config" / "settings.toml").open("rb") as handle:
            return _known(tomllib.load(handle).get("ui_language"))
    except (OSError, tomllib.TOMLDecodeError):
        return None


def language_for(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """The language of this command: see the module docstring for the order."""
    chosen = _known(environ.get(LANGUAGE_VARIABLE))
    if chosen:
        return chosen
    home = home_on_command_line(argv)
    if home is None and environ.get(HOME_VARIABLE):
        home = Path(environ[HOME_VARIABLE])
    root = home or Path.cwd()
    env_file = root / ".env"
    try:
        from_env_file = _known(dotenv_values(env_file, encoding="utf-8").get(LANGUAGE_VARIABLE))
    except (OSError, UnicodeDecodeError):
        from_env_file = None
    return from_env_file or _from_settings_file(root) or DEFAULT_LANGUAGE


def N_(message: str) -> str:  # noqa: N802 - the name `pybabel extract` looks for
    """Marks a text for the catalog without translating it here."""
    return message


# Typer's own words in help texts and usage errors, so that the catalog (and its completeness
# test) holds them; Typer looks them up through `_` in `typer.core`, the rest is worded below.
TYPER_TEXTS = (
    N_("Arguments"),
    N_("Options"),
    N_("Commands"),
    N_("required"),
    N_("default: {default}"),
    N_("Aborted!"),
    N_("Missing command."),
    N_("No such command {name!r}."),
)


def _missing_parameter(error: MissingParameter) -> str:
    hint = error.param.get_error_hint() if error.param is not None else ""
    if error.param is not None and error.param.param_type_name == "option":
        return _("Missing option {name}.").format(name=hint)
    return _("Missing argument {name}.").format(name=hint)


def _usage_problem(error: UsageError) -> str:
    """The problem of a usage error in our words where Typer's are known, else in Typer's."""
    if isinstance(error, MissingParameter):
        return _missing_parameter(error)
    if isinstance(error, BadParameter) and error.param is not None:
        return _("Invalid value for {name}: {problem}").format(
            name=error.param.get_error_hint(), problem=error.message
        )
    if isinstance(error, NoSuchOption):
        problem = _("No such option: {name}").format(name=error.option_name)
        if error.possibilities:
            possible = ", ".join(sorted(error.possibilities))
            problem += " " + _("(Possible options: {options})").format(options=possible)
        return problem
    return error.format_message()


def _show_usage_error(self: UsageError, file: IO[Any] | None = None) -> None:
    """Usage, where to find help and the problem, as Typer shows them, in our language."""
    error = self
    lines = []
    if error.ctx is not None:
        lines.append(error.ctx.get_usage())
        if error.ctx.command.get_help_option(error.ctx) is not None:
            lines.append(
                _("Try '{command} {option}' for help.").format(
                    command=error.ctx.command_path, option=error.ctx.help_option_names[0]
                )
            )
        lines.append("")
    lines.append(_("Error: {problem}").format(problem=_usage_problem(error)))
    echo("\n".join(lines), file=file or sys.stderr)


_write_usage = HelpFormatter.write_usage
_help_option = Command.get_help_option


def _write_usage_in_our_language(
    self: HelpFormatter, prog: str, args: str = "", prefix: str | None = None
) -> None:
    # The two placeholders Typer puts in every usage line, as whole words.
    args = args.replace("[OPTIONS]", _("[OPTIONS]")).replace(
        "COMMAND [ARGS]...", _("COMMAND [ARGS]...")
    )
    _write_usage(self, prog, args, _("Usage: ") if prefix is None else prefix)


def _help_option_in_our_language(self: Command, ctx: Context) -> Any:
    option = _help_option(self, ctx)
    if option is not None:
        option.help = _("Show this message and exit.")
    return option


def speak_click_in_our_language() -> None:
    """Let Typer's help and usage errors speak the chosen language.

    Typer looks a few words up through the name `_` in `typer.core` (Python's default gettext
    domain, which holds no Dutch for them): that name is pointed at `mailer.i18n`. The rest
    (the usage line, the help option, the usage error) is written in its own code; those few
    places are replaced here by versions that put the same texts through the catalog.
    """
    typer.core._ = _  # type: ignore[attr-defined]
    HelpFormatter.write_usage = _write_usage_in_our_language  # type: ignore[method-assign]
    Command.get_help_option = _help_option_in_our_language  # type: ignore[method-assign]
    UsageError.show = _show_usage_error  # type: ignore[method-assign]
