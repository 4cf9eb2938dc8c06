"""Where the outbox lives: the workspace's own SQLite file (private, WAL, made on first use) or a
team's PostgreSQL database, and the schema's version."""

from __future__ import annotations

import json
import sqlite3
import stat
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from mailer.outbox.database import (
    DATABASE_FILE,
    MIGRATIONS,
    SchemaOutOfDate,
    database_url,
    open_engine,
)
from mailer.outbox.schema import SCHEMA_REVISION
from mailer.outbox.store import Outbox, State
from mailer.workspace import Workspace
from tests.conftest import intake_row, write_csv
from tests.test_outbox import queue_one


def queue_rows(run_cli: Any, folder: Path, *rows: dict[str, str]) -> tuple[int, str, str]:
    source = write_csv(folder / "intakes.csv", list(rows))
    result: tuple[int, str, str] = run_cli("queue", str(source), "--by", "Coach")
    return result


def test_the_schema_revision_is_alembics_head() -> None:
    heads = [path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("*.py")]
    assert max(heads) == SCHEMA_REVISION


def test_sqlite_outbox_is_private_and_in_wal_mode(workspace: Workspace) -> None:
    outbox, _ = queue_one(workspace)
    assert stat.S_IMODE(workspace.outbox_dir.stat().st_mode) == 0o700
    files = sorted(workspace.outbox_dir.glob(f"{DATABASE_FILE}*"))
    assert files[0].name == DATABASE_FILE
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    with outbox.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_postgresql_without_the_schema_says_to_run_db_upgrade(
    postgres_url: str, tmp_path: Path
) -> None:
    with pytest.raises(SchemaOutOfDate) as caught:
        Outbox(tmp_path, postgres_url)
    message = str(caught.value)
    assert "heeft nog geen tabellen voor de outbox" in message and "`mailer db upgrade`" in message
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in message


def test_a_schema_of_another_version_is_refused(postgres_url: str, tmp_path: Path) -> None:
    Outbox(tmp_path).close()  # SQLite: made and upgraded on first use
    engine = open_engine(database_url(tmp_path))
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaOutOfDate, match="heeft outboxschema 9999, dit programma heeft"):
        Outbox(tmp_path)


def test_db_upgrade_prepares_a_team_database_and_other_commands_wait_for_it(
    postgres_url: str, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_DATABASE_URL", postgres_url)
    password = postgres_url.split(":")[2].split("@")[0]
    code, out, err = run_cli("list")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "geen tabellen voor de outbox; een beheerder moet eerst `mailer db upgrade`" in err
    code, out, err = run_cli("db", "upgrade")
    assert code == 0, err
    assert f"tabellen van de outbox aangemaakt ({SCHEMA_REVISION})" in out
    assert password not in out + err
    code, out, _ = run_cli("db", "upgrade")
    assert code == 0 and "zijn bijgewerkt" in out
    code, _, err = queue_rows(run_cli, tmp_path, intake_row())
    assert code == 0, err
    assert len(json.loads(run_cli("list", "--json")[1])) == 1


def test_a_password_in_settings_toml_is_refused(workspace: Workspace, run_cli: Any) -> None:
    settings = workspace.root / "config" / "settings.toml"
    text = settings.read_text(encoding="utf-8")
    assert "\n[database]\n" in text and '\nurl = ""\n' in text
    with_password = text.replace(
        '\nurl = ""\n', '\nurl = "postgresql://mailer:geheim@db.example:5432/outbox"\n'
    )
    settings.write_text(with_password, encoding="utf-8")
    code, _, err = run_cli("list")
    assert code == 1
    assert "het databasewachtwoord mag niet in settings.toml staan" in err
    assert "geheim" not in err


@pytest.mark.usefixtures("outbox_engine")
def test_export_writes_the_exact_bytes_as_eml_files(
    workspace: Workspace, run_cli: Any, tmp_path: Path
) -> None:
    outbox, first = queue_one(workspace)
    _, second = queue_one(workspace, id="PL-2")
    outbox.transition(second.id, State.REJECTED, by="Anna")
    target = tmp_path / "export"
    code, out, _ = run_cli("export", first.id[:4], second.id, "--to", str(target))
    assert code == 0 and "2 berichten geschreven naar" in out
    for stored in (first, second):
        written = (target / f"{stored.id}.eml").read_bytes()
        assert written == outbox.read_bytes(stored.id)
        assert message_from_bytes(written)["Message-ID"] == stored.message_id
        assert stat.S_IMODE((target / f"{stored.id}.eml").stat().st_mode) == 0o600
    code, out, _ = run_cli("export", "--state", "rejected", "--to", str(tmp_path / "rejected"))
    assert code == 0 and [p.name for p in (tmp_path / "rejected").iterdir()] == [f"{second.id}.eml"]
    code, _, err = run_cli("export", "--to", str(target))
    assert code == 2 and "noem de berichten die je wilt exporteren, of geef --state" in err


def test_a_command_that_waits_too_long_for_the_outbox_says_so_in_one_line(
    workspace: Workspace, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox, stored = queue_one(workspace)
    monkeypatch.setattr("mailer.outbox.database._BUSY_TIMEOUT_MS", 200)
    # Another process holds the write lock (a long `mailer queue`, say).
    blocker = sqlite3.connect(workspace.outbox_dir / DATABASE_FILE, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        code, _, err = run_cli("reject", stored.id, "--reason", "te laat", "--by", "Anna")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert code == 1
    assert err.strip().splitlines() == [
        "fout: de outbox is bezig: een andere opdracht schrijft er nog in (bijvoorbeeld een "
        "grote `mailer queue`); voer deze opdracht opnieuw uit als die klaar is"
    ]
    assert outbox.load(stored.id).state == State.PENDING


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://mailer:geheim@db.example:port/outbox",  # the docstring's placeholder
        "postgresql://mailer:geheim/outbox",  # no host: the password reads as a port
        "sqlite://",  # in memory: everything would be gone when the command ends
        "mysql://mailer:geheim@db.example/outbox",
    ],
)
def test_a_database_url_that_cannot_work_is_one_line_without_the_password(
    workspace: Workspace, run_cli: Any, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("MAILER_DATABASE_URL", url)
    code, out, err = run_cli("list")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "MAILER_DATABASE_URL" in err
    assert "geheim" not in out + err


def test_queue_and_export_refuse_what_cannot_be_used_in_one_line(
    workspace: Workspace, run_cli: Any, tmp_path: Path
) -> None:
    code, _, err = queue_rows(run_cli, tmp_path, intake_row())
    source = tmp_path / "intakes.csv"
    code, _, err = run_cli("queue", str(source), "--by", "x" * 300)
    assert code == 1 and err.startswith("fout: --by: geef de naam van wie beslist")
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("", encoding="utf-8")
    code, _, err = run_cli("export", "--state", "pending", "--to", str(a_file))
    assert code == 2 and f"--to {a_file}: kan daar niet schrijven" in err
