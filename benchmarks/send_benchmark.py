"""Benchmark of `mailer send` against a raw aiosmtplib client, and of `mailer queue`.

In one run: start an SMTP sink in a separate process on 127.0.0.1, queue N records with
`mailer queue` (timed: records per second and peak RSS) and approve them (untimed), then for each
connection count copy the approved outbox and time `mailer send --yes` end to end as a user runs
it, and time a minimal aiosmtplib client sending the same stored bytes over one connection.

Usage: python benchmarks/send_benchmark.py [--n 5000] [--connections 1 4] [--repeats 3]
       [--queue-only]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from statistics import median

import aiosmtplib

from mailer.letters.template_signoff import sign_off
from mailer.sending.local_server import free_port
from mailer.workspace import init_workspace

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
HEADER = [
    *("id", "child_name", "group", "location", "meeting_date", "meeting_time"),
    *("parent1_name", "parent1_email", "professionals"),
]


def peak_rss_mb(pid: int) -> float | None:
    """The process's own peak RSS so far (VmHWM). `ru_maxrss` from wait4 would be wrong here: a
    forked child starts with this (large) benchmark process's pages counted."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def children(pid: int) -> list[int]:
    """The child processes of `pid` (`mailer send` forks its outbox writer)."""
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(child) for child in listed.split()]


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run a command; return (seconds, peak RSS in MB, exit code).

    The peak RSS is that of the process plus the peaks of its children, added up: an upper
    bound, as a forked child shares pages with its parent.
    """
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: dict[int, float] = {}
    while process.poll() is None:
        for pid in [process.pid, *children(process.pid)]:
            peaks[pid] = max(peaks.get(pid, 0.0), peak_rss_mb(pid) or 0.0)
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    if process.returncode:
        assert process.stderr is not None
        sys.stderr.write(process.stderr.read().decode("utf-8", "replace"))
    return elapsed, sum(peaks.values()), process.returncode


def write_intakes(path: Path, count: int) -> None:
    meeting = (date.today() + timedelta(days=30)).isoformat()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for number in range(count):
            writer.writerow(
                [
                    *(f"B-{number}", f"Kind {number}", "Dolfijnen", "De Speeldoos", meeting),
                    *("14:30", "Ouder", f"ouder{number}@example.nl", "Anna Jansen; Joost Bakker"),
                ]
            )


def mailer(*args: str) -> list[str]:
    return [sys.executable, "-m", "mailer", *args]


def prepare(
    root: Path, count: int, env: dict[str, str], *, approve: bool = True
) -> tuple[Path, dict[str, float]]:
    workspace, _ = init_workspace(root / "ws")
    intakes = root / "intakes.csv"
    write_intakes(intakes, count)
    home = ["--home", str(workspace.root)]
    seconds, rss, code = run_measured(mailer("queue", str(intakes), "--by", "bench", *home), env)
    assert code == 0, "queueing failed"
    figures = {"queue_records_per_s": count / seconds, "queue_peak_rss_mb": rss}
    if not approve:
        return workspace.root, figures
    sign_off(workspace, "bench")
    _, _, code = run_measured(mailer("approve", "--all", "--yes", "--by", "bench", *home), env)
    assert code == 0, "approving failed"
    return workspace.root, figures


def load_messages(outbox: Path) -> list[tuple[list[str], bytes]]:
    messages = []
    for meta in sorted((outbox / "messages").glob("*.json")):
        to = json.loads(meta.read_text(encoding="utf-8"))["to"]
        messages.append((to, meta.with_suffix(".eml").read_bytes()))
    return messages


async def raw_send(
    port: int, sender: str, messages: list[tuple[list[str], bytes]], connections: int = 1
) -> float:
    """The baseline: aiosmtplib connections sending the stored bytes, nothing recorded.

    With one connection this is the baseline of the targets; with K it shows how fast K
    connections can go on this machine when the client does nothing else (the ceiling).
    """

    async def one_connection(share: list[tuple[list[str], bytes]]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for recipients, data in share:
            await client.sendmail(sender, recipients, data)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(one_connection(messages[k::connections]) for k in range(connections)))
    return time.perf_counter() - started


def start_sink(port: int) -> subprocess.Popen[str]:
    sink = subprocess.Popen(
        [sys.executable, str(HERE / "sink.py"), str(port)], stdout=subprocess.PIPE, text=True
    )
    assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
    return sink


def time_mailer_send(workspace: Path, connections: int, env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak RSS of `mailer send --yes --connections K` on a fresh copy."""
    copy = workspace.parent / f"ws-send-{connections}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(workspace, copy)
    # The copy is preparation, not sending: write it to disk before the clock starts, or the
    # kernel writes it back during the timed run, on the same two cores.
    os.sync()
    try:
        args = mailer("send", "--yes", "--connections", str(connections), "--home", str(copy))
        seconds, rss, code = run_measured(args, env)
        assert code == 0, f"mailer send exited with {code}"
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return seconds, rss


def benchmark_send(
    workspace: Path, connections: list[int], env: dict[str, str], repeats: int
) -> list[dict]:
    """Each repeat times the baseline, the raw client over K connections and `mailer send`
    right after one another, so that each ratio compares runs made seconds apart; this VM's
    speed drifts by 10 to 20 % between minutes. Figures are medians over the repeats, with
    the lowest and highest ratio beside them."""
    port = free_port()
    sink = start_sink(port)
    env = {
        **env,
        "MAILER_SMTP_HOST": "127.0.0.1",
        "MAILER_SMTP_PORT": str(port),
        "MAILER_SMTP_SECURITY": "none",
        "MAILER_RATE_LIMIT": "0",
    }
    sender = "intake@speeldoos.example"
    baselines: list[float] = []
    ceilings: dict[int, list[float]] = {k: [] for k in connections}
    sends: dict[int, list[tuple[float, float]]] = {k: [] for k in connections}
    try:
        messages = load_messages(workspace / "outbox")
        count = len(messages)
        for _ in range(repeats):
            baselines.append(asyncio.run(raw_send(port, sender, messages)))
            for k in connections:
                ceilings[k].append(asyncio.run(raw_send(port, sender, messages, k)))
                sends[k].append(time_mailer_send(workspace, k, env))
    finally:
        sink.terminate()
        sink.communicate(timeout=30)
    results = []
    for k in connections:
        ratios = [base / seconds for base, (seconds, _) in zip(baselines, sends[k], strict=True)]
        results.append(
            {
                "n": count,
                "connections": k,
                "repeats": repeats,
                "mailer_msgs_per_s": round(count / median(s for s, _ in sends[k]), 1),
                "baseline_msgs_per_s": round(count / median(baselines), 1),
                "ratio": round(median(ratios), 2),
                "ratio_lowest": round(min(ratios), 2),
                "ratio_highest": round(max(ratios), 2),
                # The raw client over the same K connections, as a ratio to the baseline:
                # how far K connections can go here at all.
                "raw_k_connections_ratio": round(
                    median(b / c for b, c in zip(baselines, ceilings[k], strict=True)), 2
                ),
                "peak_rss_mb": round(max(rss for _, rss in sends[k]), 1),
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeats", type=int, default=3, help="Timings per figure (median).")
    parser.add_argument("--queue-only", action="store_true", help="Only time `mailer queue`.")
    parser.add_argument("--workdir", type=Path, default=None, help="Default: a temporary folder.")
    options = parser.parse_args()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILER_")}
    root = Path(tempfile.mkdtemp(prefix="mailer-bench-", dir=options.workdir))
    try:
        workspace, figures = prepare(root, options.n, env, approve=not options.queue_only)
        print(json.dumps({"n": options.n, **{k: round(v, 1) for k, v in figures.items()}}))
        if not options.queue_only:
            for result in benchmark_send(workspace, options.connections, env, options.repeats):
                print(json.dumps(result))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
