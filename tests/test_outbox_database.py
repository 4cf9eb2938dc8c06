"""Where the outbox lives: the workspace's own SQLite file (private, WAL, made on first use) or a
team's PostgreSQL database, and the schema's version."""

from __future__ import annotations

import stat
from pathlib import Path

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
from mailer.outbox.store import Outbox
from mailer.workspace import Workspace
from tests.test_outbox import queue_one


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
    assert "has no outbox tables yet" in message and "`mailer db upgrade`" in message
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in message


def test_a_schema_of_another_version_is_refused(postgres_url: str, tmp_path: Path) -> None:
    Outbox(tmp_path).close()  # SQLite: made and upgraded on first use
    engine = open_engine(database_url(tmp_path))
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaOutOfDate, match="has outbox schema 9999, this program needs"):
        Outbox(tmp_path)
