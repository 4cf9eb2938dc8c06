"""The shared sending pace, measured: real `mailer send` processes at RATE messages per minute to
the local sink, for about a minute, with one and with two processes at the same time on one
outbox. The pace is read from the outbox's journal: the moment each message was claimed, just
before its DATA, whichever process claimed it.

Usage (from the repository root): .venv/bin/python benchmarks/pace.py [--rate 600]
[--seconds 60] [--senders 1 2]. Prints one JSON line per case and a table; exits 1 when a
measured pace is more than 2 % off the setting.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

# The records, the `mailer` command line and the SMTP sink are the main benchmark's (this folder
# is on the path when a script here runs).
from benchmark import mailer, sink, write_records

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
TOLERANCE = 0.02


def run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, cwd=REPOSITORY, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[2:4])} failed: {done.stderr.strip()}")
    return done.stdout


def prepared_workspace(root: Path, count: int, env: dict[str, str]) -> Path:
    """A new workspace with `count` approved letters."""
    folder = root / "workspace"
    run(mailer("init", str(folder)), env)
    records = root / "records.csv"
    write_records(records, count)
    home = ("--home", str(folder))
    run(mailer("queue", str(records), "--by", "Coach", *home), env)
    run(mailer("template", "approve", "--by", "Reviewer", *home), env)
    run(mailer("approve", "--all", "--yes", "--by", "Reviewer", *home), env)
    return folder


def claim_times(folder: Path, env: dict[str, str]) -> list[float]:
    """When each message was claimed (approved -> sending), from the journal."""
    entries = json.loads(run(mailer("log", "--json", "--home", str(folder)), env))
    return sorted(
        datetime.fromisoformat(entry["at"]).timestamp()
        for entry in entries
        if entry["to_state"] == "sending"
    )


def measure(rate: float, seconds: float, senders: int) -> dict[str, Any]:
    count = round(rate * seconds / 60) + 1  # N messages: N - 1 intervals of the pace
    with tempfile.TemporaryDirectory(prefix="mailer-pace-") as temporary:
        root = Path(temporary)
        env = {**os.environ, "MAILER_UI_LANGUAGE": "en"}
        env.pop("MAILER_DATABASE_URL", None)  # the workspace's own SQLite file
        folder = prepared_workspace(root, count, env)
        with sink(env) as (port, _received):
            send_env = {
                **env,
                "MAILER_SMTP_HOST": "127.0.0.1",
                "MAILER_SMTP_PORT": str(port),
                "MAILER_SMTP_SECURITY": "none",
                "MAILER_RATE_LIMIT": f"{rate:g}",
            }
            started = time.monotonic()
            processes = [
                subprocess.Popen(
                    mailer("send", "--yes", "--home", str(folder)),
                    env=send_env,
                    cwd=REPOSITORY,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(senders)
            ]
            outputs = [process.communicate() for process in processes]
            wall = time.monotonic() - started
        if any(process.returncode for process in processes):
            raise SystemExit(f"a sender failed: {[errors for _, errors in outputs]}")
        times = claim_times(folder, env)
    if len(times) != count:
        raise SystemExit(f"{len(times)} messages claimed, expected {count}")
    measured = (len(times) - 1) / (times[-1] - times[0]) * 60
    return {
        "senders": senders,
        "setting_per_minute": rate,
        "messages": count,
        "measured_per_minute": round(measured, 2),
        "off_by_percent": round((measured - rate) / rate * 100, 2),
        "first_to_last_claim_s": round(times[-1] - times[0], 2),
        "wall_s": round(wall, 2),
        # Each sender's own summary: how the work was shared.
        "summaries": [out.strip().splitlines()[-1] for out, _ in outputs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=600, help="messages per minute")
    parser.add_argument("--seconds", type=float, default=60, help="how long each run sends")
    parser.add_argument("--senders", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()
    results = []
    for senders in options.senders:
        result = measure(options.rate, options.seconds, senders)
        print(json.dumps(result), flush=True)
        results.append(result)
    print("\n| senders | setting /min | measured /min | off by | messages |")
    print("|---|---|---|---|---|")
    for result in results:
        print(
            f"| {result['senders']} | {result['setting_per_minute']:g} "
            f"| {result['measured_per_minute']:.1f} | {result['off_by_percent']:+.2f} % "
            f"| {result['messages']} |"
        )
    if any(abs(result["off_by_percent"]) > TOLERANCE * 100 for result in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
