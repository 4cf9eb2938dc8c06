"""The command line's language and help, through the real entry point (`python -m mailer`).

Help texts are built when the program starts, so these run it as a new process each time, as a
coach does, with the language chosen by the environment or by the workspace's settings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from mailer.cli import app
from mailer.workspace import Workspace
from tests.conftest import intake_row, write_csv

# Every command and sub-command, e.g. "queue", "db upgrade", "template preview".
COMMANDS = sorted(
    f"{name} {sub}" if sub else name
    for name, command in typer.main.get_command(app).commands.items()  # type: ignore[attr-defined]
    for sub in (getattr(command, "commands", None) or [""])
)
# Type names, Typer's braces for required arguments and Click's notation for ranges.
NOT_FOR_PEOPLE = re.compile(r"<[a-z\[\]|, ]+>|\{[a-z_]+\}|[<>]=x|x<=|list\[str\]|int range")


def mailer(*args: str, language: str | None = "", cwd: Path | None = None) -> tuple[int, str, str]:
    """Run `mailer ARGS` as a new process; `language` sets MAILER_UI_LANGUAGE (None: unset)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILER_")}
    if language:
        env["MAILER_UI_LANGUAGE"] = language
    result = subprocess.run(
        [sys.executable, "-m", "mailer", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


def every_help(language: str) -> dict[str, str]:
    """The help of every command, from one process (a process per command takes too long)."""
    script = (
        "import sys\nfrom mailer.cli import main\n"
        "for command in sys.argv[1:]:\n"
        "    print('=== ' + command)\n"
        "    main([*command.split(), '--help'])\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILER_")}
    env["MAILER_UI_LANGUAGE"] = language
    result = subprocess.run(
        [sys.executable, "-c", script, *COMMANDS],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=True,
    )
    sections = result.stdout.split("=== ")[1:]
    return {section.split("\n", 1)[0]: section.split("\n", 1)[1] for section in sections}


def test_main_help_is_dutch_by_default_with_each_summary_in_full(tmp_path: Path) -> None:
    code, out, _ = mailer("--help", language=None, cwd=tmp_path)
    assert code == 0
    assert out.startswith("Gebruik: mailer [OPTIES] OPDRACHT [ARGUMENTEN]...")
    assert "Nodig ouders uit voor het kennismakingsgesprek" in out
    assert "Opdrachten:" in out and "--version" in out
    # Each summary ends its sentence: none is cut off with "...".
    listed = out[out.index("Opdrachten:") :]
    assert "..." not in listed
    assert "Create or upgrade" not in out  # sub-commands are listed under their group


def test_english_is_chosen_by_the_environment(tmp_path: Path) -> None:
    code, out, _ = mailer("--help", language="en", cwd=tmp_path)
    assert code == 0
    assert out.startswith("Usage: mailer [OPTIONS] COMMAND [ARGS]...")
    assert "Invite parents to the intake meeting" in out


def test_the_workspace_setting_chooses_the_language_of_help_and_errors(
    workspace: Workspace, tmp_path: Path
) -> None:
    settings = workspace.settings_file
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace('ui_language = "nl"', 'ui_language = "en"'), "utf-8")
    code, out, _ = mailer("export", "--help", "--home", str(workspace.root), language=None)
    assert code == 0 and out.startswith("Usage: mailer export [OPTIONS] [ID...]")
    # The environment is stronger than the settings file, as for every setting.
    code, out, _ = mailer("export", "--help", "--home", str(workspace.root), language="nl")
    assert out.startswith("Gebruik: mailer export [OPTIES] [ID...]")
    # MAILER_HOME names the workspace as --home does.
    env_home = subprocess.run(
        [sys.executable, "-m", "mailer", "db", "upgrade"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("MAILER_")},
            "MAILER_HOME": str(workspace.root),
        },
        cwd=tmp_path,
        check=False,
    )
    assert env_home.returncode == 0 and "outbox schema created" in env_home.stdout


def test_an_unknown_language_setting_is_one_line_naming_the_choices(workspace: Workspace) -> None:
    settings = workspace.settings_file
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace('ui_language = "nl"', 'ui_language = "fr"'), "utf-8")
    code, _, err = mailer("list", "--home", str(workspace.root), language=None)
    assert code == 1
    assert err.strip().splitlines() == [
        "fout: instellingen (settings.toml, .env of MAILER_*-variabelen): ui_language "
        "(MAILER_UI_LANGUAGE): 'fr' is geen taal van dit programma; kies nl of en"
    ]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_no_help_shows_type_names_and_every_workspace_command_takes_home(language: str) -> None:
    helps = every_help(language)
    assert set(helps) == set(COMMANDS)
    for command, text in helps.items():
        assert not NOT_FOR_PEOPLE.search(text), f"{command}: {NOT_FOR_PEOPLE.search(text)}"
        if command not in {"init", "smtp-server", "db", "template"}:
            assert "--home" in text, command
        assert "--dir" not in text, command
        # One default each: Typer's own [default: ...] never repeats what the help text says.
        for line in text.splitlines():
            assert line.count("default") + line.count("standaard") <= 1, f"{command}: {line}"


def test_arguments_and_formats_are_named_the_same_everywhere() -> None:
    helps = every_help("nl")
    for command in ("approve", "export", "retry", "rerender"):
        assert f"Gebruik: mailer {command} [OPTIES] [ID...]" in helps[command]
    for command in ("show", "resolve", "cancel"):
        assert f"Gebruik: mailer {command} [OPTIES] ID\n" in helps[command]
    assert "Gebruik: mailer reject [OPTIES] ID..." in helps["reject"]
    assert "--before JJJJ-MM-DD" in helps["purge"]
    assert "--home MAP" in helps["demo"]
    assert "--by NAAM" in helps["approve"]
    assert "--port GETAL" in helps["review"] and "[default: 0" not in helps["review"]


def test_version_is_printed() -> None:
    code, out, _ = mailer("--version")
    assert code == 0
    assert re.fullmatch(r"mailer \d+\.\d+\.\d+\S*\n", out)


@pytest.mark.parametrize("typed", ["r", "ab", "hello!", "o0o0o0"])
def test_an_id_of_the_wrong_form_is_wrong_usage_in_one_line(
    workspace: Workspace, typed: str
) -> None:
    code, out, err = mailer("show", typed, "--home", str(workspace.root), language=None)
    assert code == 2
    assert out == ""
    assert err.startswith("Gebruik: mailer show [OPTIES] ID\n")
    assert err.strip().splitlines()[-1].startswith("Fout: Ongeldige waarde voor 'ID': ")
    assert "Traceback" not in err


def test_the_journal_writes_dates_as_people_do_and_json_keeps_iso(
    workspace: Workspace, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "intakes.csv", [intake_row()])
    home = ("--home", str(workspace.root))
    assert mailer("queue", str(source), "--by", "Coach", *home)[0] == 0
    code, out, _ = mailer("log", *home)
    assert code == 0
    day = r"\d\d-\d\d-\d{4} \d\d:\d\d:\d\d"
    assert re.search(rf"^{day}\t", out.splitlines()[1])
    code, out, _ = mailer("log", "--json", *home)
    [entry] = json.loads(out)
    assert re.match(r"\d{4}-\d\d-\d\dT", entry["at"])
