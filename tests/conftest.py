"""Shared fixtures: real workspaces in temporary folders and intake files written to disk."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailer.cli import main
from mailer.config import load_settings
from mailer.intake.files import CANONICAL_COLUMNS
from mailer.outbox.database import database_url, open_engine, upgrade_schema
from mailer.outbox.store import Outbox
from mailer.workspace import Workspace, init_workspace

# Fixtures from helper modules: the throwaway PostgreSQL server (`postgres_server`,
# `postgres_url`, `make_postgres_url`) and the local sign-in service (`certificates`, `service`).
pytest_plugins = ["tests.postgres_server", "tests.oauth_server", "tests.browser_support"]

# The columns a planning-system export uses, in the order this project writes them.
FIELDS = tuple(name for name in CANONICAL_COLUMNS if name != "duration_minutes")


def future_date(days: int = 30) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def intake_row(**overrides: Any) -> dict[str, str]:
    """A valid intake row; keyword arguments replace fields."""
    row = {
        "id": "PL-1",
        "child_name": "Zoë de Vries",
        "group": "Dolfijnen",
        "location": "De Speeldoos",
        "meeting_date": future_date(),
        "meeting_time": "14:30",
        "parent1_name": "Sanne",
        "parent1_email": "sanne@example.nl",
        "parent2_name": "Mark",
        "parent2_email": "mark@example.nl",
        "professionals": "Anna; Fatima; Joost",
        "language": "nl",
    }
    row.update({key: str(value) for key, value in overrides.items()})
    return row


def write_csv(
    path: Path, rows: Sequence[dict[str, str]], delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    fields = list(rows[0]) if rows else list(FIELDS)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that read the English wording (Dutch is the default): a module asks for it with
    `pytestmark = pytest.mark.usefixtures("english")`."""
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh workspace made by `mailer init` in a temporary folder."""
    created, _ = init_workspace(tmp_path / "ws")
    return created


@pytest.fixture
def run_cli(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run `mailer ARGS --home WORKSPACE` in-process; return (exit code, stdout, stderr)."""

    def run(*args: str, home: bool = True) -> tuple[int, str, str]:
        argv = [*args, "--home", str(workspace.root)] if home else list(args)
        code = main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def prepare_postgres_outbox(url: str) -> None:
    """What an administrator does once for a team's database: `mailer db upgrade`."""
    engine = open_engine(database_url(Path(), url), check_schema=False)
    try:
        upgrade_schema(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def outbox_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on the workspace's own SQLite file, and again on a PostgreSQL server that
    the tests start (`MAILER_DATABASE_URL`, which subprocesses inherit)."""
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
        prepare_postgres_outbox(url)
        monkeypatch.setenv("MAILER_DATABASE_URL", url)
    else:
        monkeypatch.delenv("MAILER_DATABASE_URL", raising=False)
    return str(request.param)


def open_outbox(workspace: Workspace) -> Outbox:
    """The workspace's outbox as its commands open it (the configured database, if any)."""
    return Outbox.of_workspace(workspace, load_settings(workspace.root))
