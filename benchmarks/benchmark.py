"""Benchmark of `mailer` as users run it, beside the peer tool mailmerge 2.3.0 on the same records.

One run, per engine (SQLite, PostgreSQL or both), repeated `--repeats` times with mailer and
mailmerge interleaved:

* `mailer queue` of N records (records/s, peak RSS) beside `mailmerge --dry-run` rendering the
  same CSV file (records/s);
* `mailer approve --all --yes` of those N messages (seconds, peak RSS);
* `mailer send --yes` of them to a local SMTP sink over one connection without a rate limit
  (messages/s, peak RSS) beside `mailmerge --no-dry-run` sending the same records to the same sink;
* `mailer list --json` and `mailer show ID` with `--list-n` (10,000) messages in the outbox
  (seconds, peak RSS);
* `mailer queue` of the files staff really have, with `--intake-n` (10,000) rows: an `.xlsx`
  workbook with date and time cells, and a CSV as Dutch Excel saves it (`;`, Dutch headers,
  UTF-8 with byte-order mark), each into a new workspace (records/s, peak RSS), beside the queue
  target of the database-outbox issue (`QUEUE_TARGET`).

Every figure is a whole process, timed from start to exit. Medians are printed as one JSON line per
measurement on stdout, then a table; progress goes to stderr.

Usage: .venv/bin/python benchmarks/benchmark.py [--engine sqlite|postgresql|both] [--n 5000]
       [--list-n 10000] [--intake-n 10000] [--repeats 3]
       [--only queue approve send list intake] [--mailmerge VENV] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from datetime import time as dtime
from pathlib import Path
from statistics import median
from typing import Any

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
MAILMERGE_VERSION = "2.3.0"
MAILMERGE_TEMPLATE = HERE / "mailmerge_template.txt"
# The sender of the default settings; mailmerge's template uses the same one.
SENDER = "intake@speeldoos.example"
# Different names for queueing and approving, so the figures hold with `four_eyes = true` too.
QUEUED_BY = "Bench Queuer"
APPROVED_BY = "Bench Approver"
STAGES = ("queue", "approve", "send", "list", "intake")
QUEUE_TARGET = 400  # records/s, for `mailer queue` at N=5000 (the database-outbox issue)
# The headers of a Dutch spreadsheet, as staff type them (read after folding case and spaces).
DUTCH_HEADERS = (
    *("Referentie", "Naam kind", "Groep", "Locatie", "Datum", "Tijd"),
    *("Ouder 1 naam", "Ouder 1 e-mail", "Ouder 2 naam", "Ouder 2 e-mail"),
    *("Pedagogisch professionals", "Taal", "Duur"),
)
# A sampling interval short enough that a process of 0.2 s is seen a few times; VmHWM is a
# high-water mark, so a sample that comes late still sees the peak reached before it.
RSS_SAMPLE_SECONDS = 0.01

# --- records ----------------------------------------------------------------------------------

CHILD_NAMES = (
    *("Zoë", "Anaïs", "Noëlle", "Chloë", "Joël", "Daan", "Sem", "Liam", "Noah", "Julia"),
    *("Mila", "Tess", "Saar", "Finn", "Luuk", "Emma", "Lotte", "Mees", "Yara", "Ayoub"),
    *("Inès", "Fenna", "Siëlle", "Bilal", "Émile", "Nova", "Jesse", "Olivia", "Mats", "Zeynep"),
)
PARENT_NAMES = (
    *("Hélène", "Đorđe", "Sanne", "Mark", "Fatima", "Mohammed", "Eline", "Joost", "Anouk"),
    *("Bram", "Renée", "Jérôme", "Ingrid", "Özlem", "Søren", "Ángel", "Łukasz", "Maaike"),
    *("Thijs", "Naïma", "Kees", "Marloes", "Priya", "Wouter", "Agnès", "Dragan", "Ilse"),
)
SURNAMES = (
    *("van den Heuvel-Brouwer", "de Vries", "Jansen", "van Dijk", "Bakker", "El Amrani"),
    *("Yılmaz", "de Jong", "van der Berg", "Öztürk", "Šimić", "Kuipers", "ter Horst"),
    *("Nguyễn", "van 't Hof", "Visser", "Smit-Meijer", "Boğaz", "de Groot", "Mulder"),
)
GROUPS = ("Dolfijnen", "Zeesterren", "Vlinders", "Egeltjes", "Kikkers", "Uilskuikens")
PROFESSIONALS = (
    *("Anna Jansen", "Fatima El Amrani", "Joost Bakker", "Renée Dijkstra", "Noor Hendriks"),
    *("Chantal Ramdin", "Esmée van Leeuwen", "Gökhan Aydın"),
)
# Meeting times inside the working day: never in the hour the clocks skip or repeat (02:00-03:00).
TIMES = tuple(f"{hour:02d}:{minute:02d}" for hour in range(8, 17) for minute in (0, 15, 30, 45))
# Letters that NFKD does not split into an ASCII letter and an accent.
ASCII_FOLD = str.maketrans({"Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "ø": "o", "ı": "i"})
COLUMNS = (
    *("id", "child_name", "group", "location", "meeting_date", "meeting_time"),
    *("parent1_name", "parent1_email", "parent2_name", "parent2_email"),
    *("professionals", "language", "duration_minutes"),
)


def mailbox(name: str, number: str) -> str:
    """An ASCII address made from a name (`Đorđe Öztürk` -> `dorde.ozturk.17@example.nl`)."""
    folded = unicodedata.normalize("NFKD", name.translate(ASCII_FOLD))
    letters = "".join(c for c in folded.lower() if c.isascii() and (c.isalnum() or c == " "))
    return f"{'.'.join(letters.split())}.{number}@example.nl"


def write_records(path: Path, count: int, seed: int = 12) -> None:
    """`count` Dutch families as a planning-system export: some with two parents, names with
    diacritics and prefixes, a tenth of the letters in English, meetings spread over the next
    two years. The same seed gives the same file, so every run measures the same records."""
    chooser = random.Random(seed)
    first_day = date.today() + timedelta(days=2)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for number in range(1, count + 1):
            family = chooser.choice(SURNAMES)
            parent1 = f"{chooser.choice(PARENT_NAMES)} {family}"
            two_parents = chooser.random() < 0.55
            parent2 = f"{chooser.choice(PARENT_NAMES)} {chooser.choice(SURNAMES)}"
            writer.writerow(
                [
                    f"PL-{number:06d}",
                    f"{chooser.choice(CHILD_NAMES)} {family}",
                    chooser.choice(GROUPS),
                    "De Speeldoos",
                    # Within two years (the limit is checked by `mailer queue`).
                    (first_day + timedelta(days=chooser.randrange(700))).isoformat(),
                    chooser.choice(TIMES),
                    parent1,
                    mailbox(parent1, f"{number}"),
                    parent2 if two_parents else "",
                    # Its own number: two parents may share a name, never an address.
                    mailbox(parent2, f"{number}b") if two_parents else "",
                    "; ".join(chooser.sample(PROFESSIONALS, chooser.choice((1, 2, 2, 3)))),
                    "en" if chooser.random() < 0.1 else "nl",
                    "45" if chooser.random() < 0.05 else "",
                ]
            )


# --- running and measuring processes ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stderr: str


def vm_hwm_mb(pid: int) -> float | None:
    """The process's own peak RSS so far (VmHWM). `ru_maxrss` from wait4 would not do: the
    kernel carries the RSS peak of the memory the child had before exec (the benchmark's own,
    shared by fork or vfork) over into the child's figure."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def descendants(pid: int) -> list[int]:
    """All processes below `pid`, should a command start any (peaks of each are added)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text(encoding="ascii").split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def run_measured(
    argv: Sequence[str],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    stdout: Path | None = None,
) -> Run:
    """Run a command to its end: wall seconds, peak RSS (MB) of it and its descendants, exit code.

    The main thread blocks in wait() so the end time is exact; a second thread samples VmHWM
    from /proc while the process lives. Output goes to a file or /dev/null, never to a pipe this
    process would have to drain while it measures."""
    # Anything the earlier steps left unwritten would be written back during the timed run, on
    # the same two cores.
    os.sync()
    peaks: dict[int, float] = {}
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(stdout.open("wb")) if stdout else subprocess.DEVNULL
        errors = stack.enter_context(tempfile.TemporaryFile())
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=errors)

        def sample() -> None:
            while True:
                for pid in [process.pid, *descendants(process.pid)]:
                    peak = vm_hwm_mb(pid)
                    if peak is not None:
                        peaks[pid] = max(peaks.get(pid, 0.0), peak)
                if stop.wait(RSS_SAMPLE_SECONDS):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode = process.wait()
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")
    return Run(elapsed, sum(peaks.values()), returncode, stderr)


def must(run: Run, what: str) -> Run:
    if run.returncode != 0:
        raise SystemExit(f"{what} exited with {run.returncode}:\n{run.stderr}")
    return run


def describe(run: Run) -> str:
    return f"{run.seconds:.2f} s, {run.peak_rss_mb:.0f} MB"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def mailer(*args: str) -> list[str]:
    return [sys.executable, "-m", "mailer", *args]


# --- engines ----------------------------------------------------------------------------------


class Engine:
    """Makes workspaces whose outbox lives in one engine: SQLite inside the workspace, or a new
    database on a throwaway PostgreSQL server per workspace."""

    name = "sqlite"

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    def workspace(self, label: str) -> tuple[Path, dict[str, str]]:
        """A new workspace (`mailer init`) and the environment its commands run with."""
        folder = self.root / f"{self.name}-{label}"
        must(run_measured(mailer("init", str(folder)), self.env), "mailer init")
        return folder, dict(self.env)

    def discard(self, folder: Path, env: dict[str, str]) -> None:
        shutil.rmtree(folder, ignore_errors=True)


class PostgresEngine(Engine):
    name = "postgresql"

    def __init__(self, root: Path, env: dict[str, str], server: Any) -> None:
        super().__init__(root, env)
        self.server = server

    def workspace(self, label: str) -> tuple[Path, dict[str, str]]:
        import psycopg
        from psycopg import sql

        folder, env = super().workspace(label)
        dbname = f"bench_{label.replace('-', '_')}_{secrets.token_hex(4)}"
        with psycopg.connect(self.server.admin_url(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(dbname), sql.Identifier(self.server.user)
                )
            )
        env["MAILER_DATABASE_URL"] = self.server.url(dbname)
        must(run_measured(mailer("db", "upgrade", "--home", str(folder)), env), "mailer db upgrade")
        return folder, env

    def discard(self, folder: Path, env: dict[str, str]) -> None:
        import psycopg
        from psycopg import sql

        super().discard(folder, env)
        dbname = env["MAILER_DATABASE_URL"].rsplit("/", 1)[1]
        with psycopg.connect(self.server.admin_url(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )


@contextlib.contextmanager
def postgres_server() -> Iterator[Any]:
    """The tests' throwaway server (`tests/postgres_server.py`): initdb and pg_ctl on 127.0.0.1,
    with PostgreSQL's default durability settings."""
    sys.path.insert(0, str(REPOSITORY))
    from tests.postgres_server import NOT_INSTALLED, find_bin_dir, running_server

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit(NOT_INSTALLED)
    with running_server(bin_dir) as server:
        yield server


# --- mailmerge ----------------------------------------------------------------------------------


def ensure_mailmerge(venv: Path) -> Path:
    """The `mailmerge` program in `venv`, installed there first if missing (never into the
    project's own environment: it is the peer, not a dependency)."""
    program = venv / "bin" / "mailmerge"
    if not program.exists():
        progress(f"installing mailmerge {MAILMERGE_VERSION} into {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"mailmerge=={MAILMERGE_VERSION}"],
            check=True,
        )
    return program


def mailmerge_folder(root: Path, records: Path, port: int) -> Path:
    """mailmerge's three input files: the template, the records (the very CSV `mailer queue`
    reads) and the server configuration for the sink (plain SMTP, no login, no rate limit)."""
    folder = root / "mailmerge"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(MAILMERGE_TEMPLATE, folder / "mailmerge_template.txt")
    shutil.copyfile(records, folder / "mailmerge_database.csv")
    (folder / "mailmerge_server.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\nsecurity = Never\nratelimit = 0\n",
        encoding="utf-8",
    )
    return folder


def run_mailmerge(program: Path, folder: Path, send: bool, env: dict[str, str]) -> Run:
    # mailmerge prints every message and cannot be told not to. `--output-format text` (the
    # decoded parts, to /dev/null here) is its cheapest form: 13 % faster than `raw`, which
    # flattens the whole message again, in a dry run of 1000.
    argv = [
        str(program),
        *("--template", "mailmerge_template.txt", "--database", "mailmerge_database.csv"),
        *("--config", "mailmerge_server.conf", "--no-limit", "--output-format", "text"),
        "--no-dry-run" if send else "--dry-run",
    ]
    return must(run_measured(argv, env, cwd=folder), "mailmerge")


# --- the SMTP sink --------------------------------------------------------------------------------


@contextlib.contextmanager
def sink(env: dict[str, str]) -> Iterator[tuple[int, list[int]]]:
    """`sink.py` in its own process: (its port, a list that holds the count of messages it
    received once it has stopped)."""
    from mailer.sending.local_server import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(HERE / "sink.py"), str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise SystemExit("the SMTP sink did not start")
    received: list[int] = []
    try:
        yield port, received
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
        received.append(int(output.split()[-1]))


# --- the measurements -------------------------------------------------------------------------


@dataclasses.dataclass
class Figures:
    """The runs of one measurement on one engine: mailer's and, where there is one, the peer's."""

    engine: str
    measurement: str
    n: int
    unit: str  # "records/s", "messages/s" (higher is better) or "s" (lower is better)
    mailer: list[Run] = dataclasses.field(default_factory=list)
    peer: list[Run] = dataclasses.field(default_factory=list)

    def value(self, run: Run) -> float:
        return run.seconds if self.unit == "s" else self.n / run.seconds

    def summary(self) -> dict[str, Any]:
        mailer_values = [self.value(run) for run in self.mailer]
        result: dict[str, Any] = {
            "engine": self.engine,
            "measurement": self.measurement,
            "n": self.n,
            "repeats": len(self.mailer),
            "unit": self.unit,
            "mailer": round(median(mailer_values), 3 if self.unit == "s" else 1),
            "mailer_runs": [round(value, 3) for value in mailer_values],
            "mailer_peak_rss_mb": round(max(run.peak_rss_mb for run in self.mailer), 1),
        }
        if self.measurement.startswith("queue"):
            result["target"] = QUEUE_TARGET
        if self.peer:
            peer_values = [self.value(run) for run in self.peer]
            # Each ratio pairs runs made seconds apart, so that the drift of this VM's speed
            # from one minute to the next does not land in one side only.
            ratios = [m / p for m, p in zip(mailer_values, peer_values, strict=True)]
            result |= {
                "mailmerge": round(median(peer_values), 1),
                "mailmerge_runs": [round(value, 1) for value in peer_values],
                "mailmerge_peak_rss_mb": round(max(run.peak_rss_mb for run in self.peer), 1),
                "ratio": round(median(ratios), 2),
                "ratio_lowest": round(min(ratios), 2),
                "ratio_highest": round(max(ratios), 2),
            }
        return result


def listed(folder: Path, env: dict[str, str], state: str | None = None) -> list[dict[str, Any]]:
    """`mailer list --json` (untimed), to check counts between the timed steps."""
    args = ["list", "--json", "--home", str(folder), *(["--state", state] if state else [])]
    result = subprocess.run(mailer(*args), env=env, capture_output=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"mailer list exited with {result.returncode}:\n{result.stderr!r}")
    messages: list[dict[str, Any]] = json.loads(result.stdout)
    return messages


def check_count(what: str, found: int, expected: int) -> None:
    if found != expected:
        raise SystemExit(f"{what}: {found} messages, expected {expected}")


def measure_pipeline(
    engine: Engine,
    records: Path,
    n: int,
    repeats: int,
    stages: set[str],
    mailmerge: Path,
    root: Path,
) -> list[Figures]:
    """Queue, approve and send N records `repeats` times, each time in a new workspace, beside
    mailmerge rendering and sending the same records. Which of the two goes first alternates,
    so that neither always runs on a machine warmed (or tired) by the other."""
    queue = Figures(engine.name, "queue", n, "records/s")
    approve = Figures(engine.name, "approve_all", n, "s")
    send = Figures(engine.name, "send", n, "messages/s")
    with sink(engine.env) as (port, received):
        peer_folder = mailmerge_folder(root, records, port)
        peer_env = {key: value for key, value in engine.env.items() if key != "VIRTUAL_ENV"}
        smtp_env = {
            **engine.env,
            "MAILER_SMTP_HOST": "127.0.0.1",
            "MAILER_SMTP_PORT": str(port),
            "MAILER_SMTP_SECURITY": "none",
            "MAILER_RATE_LIMIT": "0",
        }
        for repeat in range(repeats):
            peer_first = repeat % 2 == 1
            folder, env = engine.workspace(f"r{repeat}")
            home = ("--home", str(folder))
            try:
                if peer_first:
                    queue.peer.append(
                        run_mailmerge(mailmerge, peer_folder, send=False, env=peer_env)
                    )
                queue.mailer.append(
                    must(
                        run_measured(mailer("queue", str(records), "--by", QUEUED_BY, *home), env),
                        "mailer queue",
                    )
                )
                if not peer_first:
                    queue.peer.append(
                        run_mailmerge(mailmerge, peer_folder, send=False, env=peer_env)
                    )
                progress(f"{engine.name} r{repeat}: queue {describe(queue.mailer[-1])}")
                if "approve" not in stages and "send" not in stages:
                    continue
                must(
                    run_measured(mailer("template", "approve", "--by", APPROVED_BY, *home), env),
                    "mailer template approve",
                )
                approve.mailer.append(
                    must(
                        run_measured(
                            mailer("approve", "--all", "--yes", "--by", APPROVED_BY, *home), env
                        ),
                        "mailer approve --all",
                    )
                )
                progress(f"{engine.name} r{repeat}: approve {describe(approve.mailer[-1])}")
                check_count(
                    "approved after `approve --all`", len(listed(folder, env, "approved")), n
                )
                if "send" not in stages:
                    continue
                send_env = {**smtp_env, **env}
                if peer_first:
                    send.peer.append(run_mailmerge(mailmerge, peer_folder, True, peer_env))
                send.mailer.append(
                    must(run_measured(mailer("send", "--yes", *home), send_env), "mailer send")
                )
                if not peer_first:
                    send.peer.append(run_mailmerge(mailmerge, peer_folder, True, peer_env))
                progress(
                    f"{engine.name} r{repeat}: send {describe(send.mailer[-1])}, "
                    f"mailmerge {send.peer[-1].seconds:.2f} s"
                )
                check_count("sent after `mailer send`", len(listed(folder, env, "sent")), n)
            finally:
                engine.discard(folder, env)
    if send.mailer:
        # Every message of both tools reached the sink, once.
        check_count("received by the sink", received[0], 2 * n * len(send.mailer))
    return [figures for figures in (queue, approve, send) if figures.mailer]


def measure_list_show(engine: Engine, records: Path, n: int, repeats: int) -> list[Figures]:
    """`mailer list --json` and `mailer show ID` as whole processes, with n messages queued
    (and the template signed off, so that `list` has no problem to report on every line)."""
    folder, env = engine.workspace("list")
    home = ("--home", str(folder))
    list_json = Figures(engine.name, "list_json", n, "s")
    show = Figures(engine.name, "show", n, "s")
    try:
        progress(f"{engine.name}: queueing {n} messages for list and show (untimed)")
        must(run_measured(mailer("queue", str(records), "--by", QUEUED_BY, *home), env), "queue")
        must(
            run_measured(mailer("template", "approve", "--by", APPROVED_BY, *home), env),
            "mailer template approve",
        )
        output = engine.root / "list.json"
        for repeat in range(repeats):
            run = must(run_measured(mailer("list", "--json", *home), env, stdout=output), "list")
            list_json.mailer.append(run)
            messages = json.loads(output.read_text(encoding="utf-8"))
            check_count("`mailer list --json`", len(messages), n)
            # A different message each time, from the middle of the outbox.
            message_id = messages[(len(messages) // 2 + repeat) % len(messages)]["id"]
            show.mailer.append(must(run_measured(mailer("show", message_id, *home), env), "show"))
            progress(
                f"{engine.name} r{repeat}: list --json {describe(run)}, "
                f"show {describe(show.mailer[-1])}"
            )
    finally:
        engine.discard(folder, env)
    return [list_json, show]


def write_spreadsheets(records: Path, folder: Path) -> tuple[Path, Path]:
    """The records of `records` as staff's own files: an .xlsx workbook (dates and times as
    date and time cells, the language as a word) and a CSV as Dutch Excel saves it."""
    import openpyxl  # a dev dependency: only the benchmark and the tests write workbooks

    with records.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    words = {"nl": "Nederlands", "en": "Engels"}
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Intakes")
    sheet.append(list(DUTCH_HEADERS))
    for row in rows:
        cells: list[Any] = list(row)
        cells[4] = date.fromisoformat(row[4])
        hour, minute = row[5].split(":")
        cells[5] = dtime(int(hour), int(minute))
        cells[11] = words[row[11]]
        cells[12] = int(row[12]) if row[12] else None
        sheet.append(cells)
    xlsx = folder / "intakes.xlsx"
    workbook.save(xlsx)
    excel_csv = folder / "intakes-excel.csv"
    with excel_csv.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(DUTCH_HEADERS)
        for row in rows:
            day = date.fromisoformat(row[4])
            writer.writerow([*row[:4], f"{day:%d-%m-%Y}", f"{row[5]} uur", *row[6:11],
                             words[row[11]], row[12]])  # fmt: skip
    return xlsx, excel_csv


def measure_intake(engine: Engine, records: Path, n: int, repeats: int) -> list[Figures]:
    """`mailer queue` of an .xlsx and of a Dutch Excel CSV of n rows, each into a new workspace."""
    xlsx, excel_csv = write_spreadsheets(records, engine.root)
    measured = []
    for label, path in (("queue_xlsx", xlsx), ("queue_excel_csv", excel_csv)):
        figures = Figures(engine.name, label, n, "records/s")
        for repeat in range(repeats):
            folder, env = engine.workspace(label)
            try:
                args = mailer("queue", str(path), "--by", QUEUED_BY, "--home", str(folder))
                run = must(run_measured(args, env), f"mailer queue {path.name}")
                check_count(f"`mailer queue {path.name}`", len(listed(folder, env)), n)
            finally:
                engine.discard(folder, env)
            figures.mailer.append(run)
            progress(
                f"{engine.name} r{repeat}: queue {path.name} {describe(run)} "
                f"({n / run.seconds:.0f} records/s; target {QUEUE_TARGET}/s)"
            )
        measured.append(figures)
    return measured


# --- the report -------------------------------------------------------------------------------


def table(summaries: list[dict[str, Any]]) -> str:
    rows = [
        "| engine | measurement | N | mailer (median) | mailmerge (median) "
        "| ratio (lowest-highest) | mailer peak RSS | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in summaries:
        unit = s["unit"]
        peer = f"{s['mailmerge']} {unit}" if "mailmerge" in s else "-"
        ratio = f"{s['ratio']} ({s['ratio_lowest']}-{s['ratio_highest']})" if "ratio" in s else "-"
        target = f"≥ {s['target']} {unit}" if "target" in s else "-"
        rows.append(
            f"| {s['engine']} | {s['measurement']} | {s['n']} | {s['mailer']} {unit} | {peer} "
            f"| {ratio} | {s['mailer_peak_rss_mb']} MB | {target} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--n", type=int, default=5000, help="Records to queue, approve, send.")
    parser.add_argument(
        "--list-n", type=int, default=10000, help="Messages in the outbox for list and show."
    )
    parser.add_argument(
        "--intake-n", type=int, default=10000, help="Rows of the .xlsx and CSV for `intake`."
    )
    parser.add_argument("--repeats", type=int, default=3, help="Timings per figure (median).")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=STAGES,
        default=list(STAGES),
        help="Stages to run; approve needs queue and send needs both, so they run too.",
    )
    parser.add_argument(
        "--mailmerge",
        type=Path,
        default=Path(tempfile.gettempdir()) / f"mailmerge-{MAILMERGE_VERSION}-venv",
        help="A virtual environment with mailmerge (made there if missing).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="A smoke run: --n 300 --list-n 600 --repeats 1."
    )
    parser.add_argument("--workdir", type=Path, default=None, help="Default: the temp folder.")
    options = parser.parse_args()
    if options.quick:
        options.n, options.list_n, options.intake_n, options.repeats = 300, 600, 300, 1
    stages = set(options.only)
    if "send" in stages:
        stages |= {"queue", "approve"}
    if "approve" in stages:
        stages.add("queue")
    program = ensure_mailmerge(options.mailmerge) if stages & {"queue", "send"} else Path()
    # The commands get their settings from the workspace and from what each step sets here,
    # never from the caller's shell.
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILER_")}
    engines = ("sqlite", "postgresql") if options.engine == "both" else (options.engine,)
    root = Path(tempfile.mkdtemp(prefix="mailer-bench-", dir=options.workdir))
    summaries: list[dict[str, Any]] = []
    try:
        records = root / "intakes.csv"
        write_records(records, options.n)
        list_records = root / "intakes-list.csv"
        write_records(list_records, options.list_n, seed=34)
        intake_records = root / "intakes-intake.csv"
        write_records(intake_records, options.intake_n, seed=56)
        with contextlib.ExitStack() as stack:
            for name in engines:
                engine: Engine
                if name == "postgresql":
                    engine = PostgresEngine(root, env, stack.enter_context(postgres_server()))
                else:
                    engine = Engine(root, env)
                measured: list[Figures] = []
                if stages & {"queue", "approve", "send"}:
                    measured += measure_pipeline(
                        engine, records, options.n, options.repeats, stages, program, root
                    )
                if "list" in stages:
                    measured += measure_list_show(
                        engine, list_records, options.list_n, options.repeats
                    )
                if "intake" in stages:
                    measured += measure_intake(
                        engine, intake_records, options.intake_n, options.repeats
                    )
                for figures in measured:
                    summaries.append(figures.summary())
                    print(json.dumps(summaries[-1], ensure_ascii=False), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(table(summaries))


if __name__ == "__main__":
    main()
