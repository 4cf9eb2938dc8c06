"""Which database holds the outbox, opening it, and keeping its schema at this program's version.

By default the outbox is a SQLite file in the workspace's `outbox/` folder (WAL mode, file 0600),
made and upgraded on first use. `MAILER_DATABASE_URL` (or `[database] url`) set to
`postgresql://user:password@host:port/dbname` points every command at a PostgreSQL database that a
team shares; there an administrator creates and upgrades the schema with `mailer db upgrade`, and
any other command refuses a schema of another version.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlalchemy.pool import ConnectionPoolEntry

from mailer.errors import OutboxError
from mailer.i18n import _
from mailer.outbox.schema import SCHEMA_REVISION

__all__ = [
    "DATABASE_FILE",
    "SchemaOutOfDate",
    "database_problem",
    "database_url",
    "describe",
    "open_engine",
    "schema_revision",
    "upgrade_schema",
]

DATABASE_FILE = "outbox.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# How long a command waits for another one's write to finish (several senders, a queue beside
# a send) before it gives up; writes last milliseconds, so this only matters when stuck.
_BUSY_TIMEOUT_MS = 30_000


class SchemaOutOfDate(OutboxError):
    """The database has no outbox schema, or one of another version of this program."""


def database_url(outbox_dir: Path, configured: str = "") -> URL:
    """The configured URL (PostgreSQL), else the workspace's own SQLite file."""
    if not configured:
        return URL.create("sqlite", database=str(outbox_dir / DATABASE_FILE))
    try:
        url = make_url(configured)
    except (ArgumentError, ValueError):  # ValueError: a port that is no number (never echoed)
        raise OutboxError(
            _(
                "MAILER_DATABASE_URL is not a database address; write it as "
                "postgresql://user:password@host:5432/dbname"
            )
        ) from None
    if url.drivername in {"postgresql", "postgres", "postgresql+psycopg"}:
        return url.set(drivername="postgresql+psycopg")
    if url.drivername == "sqlite" and url.database not in {None, "", ":memory:"}:
        return url
    raise OutboxError(
        _(
            "MAILER_DATABASE_URL: {driver!r} is not supported; use postgresql://... "
            "(or leave it empty for the workspace's own SQLite file)"
        ).format(driver=url.drivername)
    )


def describe(url: URL) -> str:
    """The database for people: the file, or the server and database, never the password."""
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return _("PostgreSQL database {name!r} on {host}:{port}").format(
        name=url.database, host=url.host, port=url.port or 5432
    )


def _private_sqlite_file(path: Path) -> None:
    """Make the database file 0600 (and its folder 0700) before SQLite does: the WAL and
    shared-memory files take the database file's permissions."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(descriptor)


def _sqlite_engine(url: URL) -> Engine:
    try:
        _private_sqlite_file(Path(str(url.database)))
    except OSError as error:
        raise OutboxError(
            _(
                "{file}: cannot create the outbox here ({reason}); check that the workspace "
                "folder is yours to write in"
            ).format(file=url.database, reason=error.strerror)
        ) from None
    engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
        # SQLAlchemy, not the sqlite3 module, opens transactions (see `_begin`).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL: readers (`list`, the review page) never wait for a sender and never see half a
        # change. FULL: a commit is on disk when it returns, so a mark written before DATA
        # survives a power loss.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        # Purged letters are overwritten with zeros, not left in free pages of the file.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # A writing transaction takes the write lock when it begins, so that two processes
        # never both read a message and then both try to change it (SQLite would refuse one
        # of them half-way instead of letting it wait).
        writes = connection.get_execution_options().get("outbox_writes", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def _postgresql_engine(url: URL) -> Engine:
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def schema_revision(connection: Connection) -> str | None:
    """The Alembic revision of the database's outbox schema, None when it has none."""
    try:
        with connection.begin_nested() if connection.in_transaction() else connection.begin():
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):  # no such table
        return None


def upgrade_schema(engine: Engine) -> None:
    """Create or upgrade the outbox schema to this program's version (Alembic)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()


def _check_schema(engine: Engine, url: URL) -> None:
    with engine.connect() as connection:
        found = schema_revision(connection)
    if found == SCHEMA_REVISION:
        return
    if url.get_backend_name() == "sqlite" and (found is None or found < SCHEMA_REVISION):
        upgrade_schema(engine)  # the workspace's own file: nobody else to ask
        return
    if found is None:
        problem = _("{database} has no outbox tables yet").format(database=describe(url))
    else:
        problem = _("{database} has outbox schema {found}, this program needs {needed}").format(
            database=describe(url), found=found, needed=SCHEMA_REVISION
        )
    raise SchemaOutOfDate(
        _("{problem}; an administrator runs `mailer db upgrade` first").format(problem=problem)
    )


def open_engine(url: URL, *, check_schema: bool = True) -> Engine:
    """An engine for the outbox at `url`, its schema checked (SQLite: made or upgraded)."""
    engine = _sqlite_engine(url) if url.get_backend_name() == "sqlite" else _postgresql_engine(url)
    if not check_schema:
        return engine
    try:
        _check_schema(engine, url)
    except OperationalError as error:
        engine.dispose()
        reason = _reason(error)
        raise OutboxError(
            _("{database}: cannot open the outbox ({reason})").format(
                database=describe(url), reason=reason
            )
        ) from None
    except BaseException:
        engine.dispose()
        raise
    return engine


def database_problem(error: OperationalError) -> str:
    """One line for a person about a database that failed in the middle of a command; the
    step that failed was rolled back, so the outbox is as it was before it."""
    reason = _reason(error)
    if "database is locked" in reason:
        return _(
            "the outbox is busy: another command is still writing to it (a large "
            "`mailer queue`, say); run this command again when that one is done"
        )
    return _(
        "the outbox database failed ({reason}); nothing of the step that failed was kept: "
        "run the command again, or check the database (MAILER_DATABASE_URL) and the disk"
    ).format(reason=reason)


def _reason(error: OperationalError) -> str:
    """The driver's first line, which says what went wrong (refused, wrong password, ...)."""
    lines = str(error.orig).strip().splitlines()
    return lines[0] if lines else error.__class__.__name__
