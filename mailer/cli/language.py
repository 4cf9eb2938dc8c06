"""Which language the command line speaks, chosen before its help texts are built.

Typer builds every help text when the command modules are imported, so the language has to be
known first. It comes, strongest first, from `MAILER_UI_LANGUAGE`, the workspace's `.env`, and
`ui_language` in its `config/settings.toml` (the workspace named by `--home`, else `MAILER_HOME`,
else the current folder), else Dutch: the same order as every other setting. A file that cannot
be read is skipped here; the command itself reports it in the language found so far.

Click's and Typer's own words ("Usage:", "Missing argument") are put through the same catalog.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from pathlib import Path

from dotenv import dotenv_values

from mailer.i18n import DEFAULT_LANGUAGE, LANGUAGES, _, ngettext
from mailer.workspace import HOME_VARIABLE

__all__ = ["CLICK_TEXTS", "home_on_command_line", "language_for", "speak_click_in_our_language"]

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


def language_for(argv: Sequence[str], environ: os._Environ[str] | dict[str, str]) -> str:
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


def NP_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - see N_
    """Marks a text with a plural for the catalog without translating it here."""
    return singular, plural


# Click's and Typer's own texts that a person meets in help and usage errors, so that the
# catalog (and its completeness test) holds them; they are translated where Click uses them.
CLICK_TEXTS = (
    N_("Usage:"),
    N_("Options"),
    N_("Arguments"),
    N_("Commands"),
    N_("Show this message and exit."),
    N_("Show the version and exit."),
    N_("Error"),
    N_("Try '{command} {option}' for help."),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing command."),
    N_("No such command {name!r}."),
    N_("No such option {name!r}."),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Invalid value: {message}"),
    N_("{value!r} is not a valid {number_type}."),
    N_("{value} is not in the range {range}."),
    N_("Option {name!r} does not take a value."),
    N_("required"),
    N_("default: {default}"),
    N_("Aborted!"),
    N_("Repeat for confirmation"),
    N_("Error: invalid input"),
    N_("integer"),
    N_("float"),
    NP_("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"),
    NP_("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."),
)


def _click_ngettext(singular: str, plural: str, count: int) -> str:
    return ngettext(singular, plural, count)


def speak_click_in_our_language() -> None:
    """Let Click and Typer look their texts up in our catalog instead of the system's.

    They call `gettext` through the names `_` and `ngettext` in their own modules (Python's
    default domain, which holds no Dutch for them); pointing those names at `mailer.i18n` gives
    help and usage errors in the same language as the rest. Texts missing from our catalog stay
    as Click wrote them.
    """
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.parser
    import click.termui
    import click.types
    import typer.core

    modules = (
        click.core,
        click.decorators,
        click.exceptions,
        click.formatting,
        click.parser,
        click.termui,
        click.types,
        typer.core,
    )
    for module in modules:
        if hasattr(module, "_"):
            module._ = _  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = _click_ngettext  # type: ignore[attr-defined]
