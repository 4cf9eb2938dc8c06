"""A throwaway PostgreSQL server for the tests, started from Debian's `postgresql` package.

Registered as a pytest plugin by `tests/conftest.py`. Its fixtures:

* `postgres_server` (session): one cluster made with `initdb` and run with `pg_ctl` on 127.0.0.1
  and a free port, with a password-authenticated role `mailer`; stopped and removed at the end.
* `postgres_url` (function): a fresh, empty database on that server owned by `mailer`, as the
  URL a user writes in `MAILER_DATABASE_URL`:
  `postgresql://mailer:PASSWORD@127.0.0.1:PORT/DBNAME`. It is dropped after the test.
* `make_postgres_url` (function): a callable that makes one more such database per call, for
  tests that need several; all are dropped after the test.

`running_server(bin_dir)` starts and stops the same cluster as a plain context manager, for the
fixture and for `benchmarks/benchmark.py`.

The cluster keeps PostgreSQL's default durability settings (fsync, synchronous_commit) on
purpose: the outbox's tests are about what survives a crash.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

NOT_INSTALLED = (
    "PostgreSQL is not installed: run `make test`, which installs Debian's postgresql package"
)
HOST = "127.0.0.1"
USER = "mailer"
# The bootstrap superuser creates and drops the per-test databases; the tests connect as the
# unprivileged `mailer` role so that they see the permissions a real deployment has.
ADMIN_USER = "postgres"
# PostgreSQL refuses to run as root, so as root (as CI runs) the cluster belongs to this user.
SYSTEM_USER = "postgres"
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 30
# Another process may take the free port between choosing it and the server binding it.
START_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class PostgresServer:
    """A running cluster: where it listens and the credentials of its two roles."""

    port: int
    password: str
    admin_password: str
    bin_dir: Path
    base_dir: Path
    host: str = HOST
    user: str = USER
    admin_user: str = ADMIN_USER

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "server.log"

    def url(self, dbname: str) -> str:
        """The URL of `dbname` for the `mailer` role, as written in `MAILER_DATABASE_URL`."""
        # The passwords are hexadecimal, so they need no percent-encoding in a URL.
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

    def admin_url(self, dbname: str = "postgres") -> str:
        """The URL of `dbname` for the superuser, for creating and dropping databases."""
        return (
            f"postgresql://{self.admin_user}:{self.admin_password}@{self.host}:{self.port}/{dbname}"
        )


def find_bin_dir() -> Path | None:
    """The `bin` folder of the highest PostgreSQL version installed, or None."""
    candidates = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if path.parent.parent.name.isdigit()
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda bin_dir: int(bin_dir.parent.name))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _log_tail(log_path: Path, lines: int = 30) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"(no server log: {error})"
    return "\n".join(text.splitlines()[-lines:]) or "(the server log is empty)"


class _Runner:
    """Runs PostgreSQL's programs as the user the server may run as."""

    def __init__(self, cwd: Path) -> None:
        self.as_root = os.geteuid() == 0
        self.cwd = cwd
        # PG* variables of the caller's shell (PGDATA, PGPORT, ...) must not steer the programs.
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}

    def run(
        self, command: Sequence[str], timeout: float, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = list(command)
        if self.as_root:
            argv = ["runuser", "-u", SYSTEM_USER, "--", *argv]
        result = subprocess.run(
            argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result


def _make_base_dir(as_root: bool) -> Path:
    # Not under pytest's tmp_path: that is root's and mode 0700, so the postgres user could not
    # enter it. mkdtemp makes a private folder in /tmp that is handed to that user.
    base_dir = Path(tempfile.mkdtemp(prefix="mailer-pg-", dir="/tmp"))
    if as_root:
        try:
            account = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            shutil.rmtree(base_dir)
            pytest.fail(
                f"running as root, but there is no {SYSTEM_USER!r} user to run PostgreSQL as: "
                "reinstall Debian's postgresql package",
                pytrace=False,
            )
        os.chown(base_dir, account.pw_uid, account.pw_gid)
    return base_dir


def _write_private(path: Path, text: str, as_root: bool) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    if as_root:
        account = pwd.getpwnam(SYSTEM_USER)
        os.chown(path, account.pw_uid, account.pw_gid)


def _init_cluster(runner: _Runner, server: PostgresServer) -> None:
    password_file = server.base_dir / "admin-password"
    _write_private(password_file, server.admin_password + "\n", runner.as_root)
    try:
        runner.run(
            [
                str(server.bin_dir / "initdb"),
                "--pgdata",
                str(server.data_dir),
                "--username",
                server.admin_user,
                "--pwfile",
                str(password_file),
                # Every connection, TCP or socket, must give a password: the tests check that.
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                # The C locale exists everywhere; the caller's LANG may name one not generated.
                "--no-locale",
                "--encoding=UTF8",
            ],
            timeout=120,
        )
    finally:
        password_file.unlink(missing_ok=True)


def _start(runner: _Runner, server: PostgresServer) -> subprocess.CompletedProcess[str]:
    options = " ".join(
        [
            f"-c listen_addresses={server.host}",
            f"-p {server.port}",
            # The socket goes in our own folder: /var/run/postgresql may be missing or belong to
            # Debian's own cluster, and a second server on the same port number would clash there.
            f"-c unix_socket_directories={server.base_dir}",
        ]
    )
    return runner.run(
        [
            str(server.bin_dir / "pg_ctl"),
            "start",
            "--pgdata",
            str(server.data_dir),
            "--log",
            str(server.log_path),
            "--options",
            options,
            "--wait",
            "--timeout",
            str(START_TIMEOUT_SECONDS),
        ],
        timeout=START_TIMEOUT_SECONDS + 10,
        check=False,
    )


def _wait_until_ready(server: PostgresServer) -> None:
    """Connect until the server answers: `pg_ctl --wait` only knows the postmaster is up."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            with psycopg.connect(server.admin_url(), connect_timeout=5):
                return
        except psycopg.OperationalError as error:
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"PostgreSQL on port {server.port} did not accept connections within "
                    f"{START_TIMEOUT_SECONDS} s: {error}\nserver log:\n{_log_tail(server.log_path)}"
                ) from error
            time.sleep(0.1)


def _stop(runner: _Runner, server: PostgresServer) -> None:
    pg_ctl = str(server.bin_dir / "pg_ctl")
    stopped = runner.run(
        [pg_ctl, "stop", "--pgdata", str(server.data_dir), "--mode", "fast", "--wait"],
        timeout=STOP_TIMEOUT_SECONDS + 10,
        check=False,
    )
    if stopped.returncode != 0 and (server.data_dir / "postmaster.pid").exists():
        # A server that does not stop in time is killed: the cluster is thrown away anyway.
        runner.run(
            [pg_ctl, "stop", "--pgdata", str(server.data_dir), "--mode", "immediate", "--wait"],
            timeout=STOP_TIMEOUT_SECONDS + 10,
            check=False,
        )


def _create_role(server: PostgresServer) -> None:
    with psycopg.connect(server.admin_url(), autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                sql.Identifier(server.user), sql.Literal(server.password)
            )
        )


@contextlib.contextmanager
def running_server(bin_dir: Path) -> Iterator[PostgresServer]:
    """Make a cluster with the programs in `bin_dir`, start it on 127.0.0.1 and a free port, and
    stop and remove it on leaving. A plain context manager, so that `benchmarks/` can start the
    same server without pytest."""
    base_dir = _make_base_dir(as_root=os.geteuid() == 0)
    runner = _Runner(cwd=base_dir)
    server = PostgresServer(
        port=_free_port(),
        password=secrets.token_hex(16),
        admin_password=secrets.token_hex(16),
        bin_dir=bin_dir,
        base_dir=base_dir,
    )
    try:
        _init_cluster(runner, server)
        for attempt in range(1, START_ATTEMPTS + 1):
            # Each attempt gets its own log, so that an old attempt's error is not read as new.
            server.log_path.unlink(missing_ok=True)
            result = _start(runner, server)
            if result.returncode == 0:
                break
            log = _log_tail(server.log_path)
            if attempt < START_ATTEMPTS and "could not bind" in log:
                server = dataclasses.replace(server, port=_free_port())
                continue
            raise RuntimeError(
                f"pg_ctl could not start PostgreSQL on port {server.port} "
                f"(exit {result.returncode}): {result.stdout}{result.stderr}\nserver log:\n{log}"
            )
        _wait_until_ready(server)
        _create_role(server)
        yield server
    finally:
        try:
            # Also after a failed start: pg_ctl may give up waiting while the postmaster runs on.
            if (server.data_dir / "postmaster.pid").exists():
                _stop(runner, server)
        finally:
            shutil.rmtree(base_dir)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the whole session, on 127.0.0.1 and a free port."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.fail(NOT_INSTALLED, pytrace=False)
    with running_server(bin_dir) as server:
        yield server


@pytest.fixture
def make_postgres_url(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """Call it for a new, empty database owned by `mailer` and its URL; all are dropped after
    the test. For tests that need more than the one database of `postgres_url`."""
    created: list[str] = []

    def make() -> str:
        dbname = f"test_{secrets.token_hex(6)}"
        with psycopg.connect(postgres_server.admin_url(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(dbname), sql.Identifier(postgres_server.user)
                )
            )
        created.append(dbname)
        return postgres_server.url(dbname)

    yield make
    if created:
        with psycopg.connect(postgres_server.admin_url(), autocommit=True) as admin:
            for dbname in created:
                # FORCE ends the connections a test left open, which would block the drop.
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(dbname)
                    )
                )


@pytest.fixture
def postgres_url(make_postgres_url: Callable[[], str]) -> str:
    """A new, empty database owned by `mailer`, as the URL a user writes in
    `MAILER_DATABASE_URL`; dropped after the test."""
    return make_postgres_url()
