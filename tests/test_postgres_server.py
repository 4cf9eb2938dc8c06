"""The throwaway PostgreSQL server of `tests/postgres_server.py` works as the outbox needs it to.

These use the real server: a database per test, reached by the URL a user would configure, that
holds what is written to it, is separate from other tests' databases and wants the password.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest


def test_the_url_is_the_form_a_user_configures(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    assert parts.scheme == "postgresql"
    assert parts.username == "mailer"
    assert parts.password
    assert parts.hostname == "127.0.0.1"
    assert parts.port is not None
    assert parts.path.startswith("/test_")


def test_a_row_written_can_be_read_back(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        connection.execute("CREATE TABLE letters (id integer PRIMARY KEY, recipient text)")
        connection.execute(
            "INSERT INTO letters (id, recipient) VALUES (%s, %s)", (1, "sanne@example.nl")
        )
    # A second connection sees the row only if the first one committed it.
    with psycopg.connect(postgres_url) as connection:
        rows = connection.execute("SELECT id, recipient FROM letters").fetchall()
    assert rows == [(1, "sanne@example.nl")]


def test_the_database_starts_empty(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    assert tables == []


def test_two_databases_are_independent(
    postgres_url: str, make_postgres_url: Callable[[], str]
) -> None:
    other_url = make_postgres_url()
    assert other_url != postgres_url
    with psycopg.connect(postgres_url) as connection:
        connection.execute("CREATE TABLE letters (id integer PRIMARY KEY)")
    with psycopg.connect(other_url) as connection:
        found = connection.execute("SELECT to_regclass('public.letters')").fetchone()
    assert found == (None,)


def test_a_wrong_password_is_refused(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    wrong = urlunsplit(parts._replace(netloc=f"mailer:wrong@{parts.hostname}:{parts.port}"))
    # `with` closes a connection that should not have been made, so the failure is clean.
    with (
        pytest.raises(psycopg.OperationalError, match="password authentication failed"),
        psycopg.connect(wrong, connect_timeout=5),
    ):
        pass


def test_no_password_is_refused(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = urlsplit(postgres_url)
    bare = urlunsplit(parts._replace(netloc=f"mailer@{parts.hostname}:{parts.port}"))
    # No PGPASSWORD and no password file: the server asks, and the client has nothing to give.
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with (
        pytest.raises(psycopg.OperationalError, match="password"),
        psycopg.connect(bare, connect_timeout=5, passfile="/nonexistent"),
    ):
        pass
