"""Schema 0002 (the shared pace) on top of an outbox made by schema 0001: a workspace's own
SQLite file is upgraded by itself, messages kept; a shared PostgreSQL outbox asks for
`mailer db upgrade`."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from mailer.outbox.database import MIGRATIONS, SchemaOutOfDate, database_url, open_engine
from mailer.outbox.store import Outbox, State
from mailer.workspace import Workspace
from tests.conftest import open_outbox, prepare_postgres_outbox
from tests.smtp_servers import approved_outbox

# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


def downgrade_to_first_schema(url: str, outbox_dir: Path) -> None:
    engine = open_engine(database_url(outbox_dir, url), check_schema=False)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
            connection.commit()
    finally:
        engine.dispose()


def test_a_workspace_file_of_schema_0001_gains_the_pace_and_keeps_its_letters(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILER_DATABASE_URL", raising=False)
    ids = approved_outbox(workspace, 2)
    open_outbox(workspace).close()
    downgrade_to_first_schema("", workspace.outbox_dir)
    outbox = Outbox(workspace.outbox_dir)
    tables = set(inspect(outbox.engine).get_table_names())
    assert {"send_pace", "send_reservations"} <= tables
    assert {outbox.load(message_id).state for message_id in ids} == {State.APPROVED}


def test_a_shared_outbox_of_schema_0001_asks_for_db_upgrade(
    workspace: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare_postgres_outbox(postgres_url)
    monkeypatch.setenv("MAILER_DATABASE_URL", postgres_url)
    downgrade_to_first_schema(postgres_url, workspace.outbox_dir)
    with pytest.raises(SchemaOutOfDate, match=r"schema 0001, this program needs 0002.*db upgrade"):
        open_outbox(workspace)
