"""Crash-safe writes: files are replaced whole, even where an older, longer file is reused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mailer.durable import append_lines, durable_swap_many, durable_write, swap_path


def test_a_swap_file_longer_than_the_new_data_is_cut_to_length(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    durable_swap_many([(target, b"first version, rather long " * 40)])
    durable_swap_many([(target, b"second")])
    # The swap file now holds the long first version and is overwritten in place next.
    durable_swap_many([(target, b"third")])
    assert target.read_bytes() == b"third"
    assert swap_path(target).read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_stale_temporary_file_from_a_killed_writer_does_not_leak_into_the_new_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "message.eml"
    stale = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    stale.write_bytes(b"half of an earlier attempt " * 100)
    durable_write(target, b"whole")
    assert target.read_bytes() == b"whole"
    assert not stale.exists()


def test_appended_lines_follow_the_existing_ones(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    append_lines(journal, [b"one"])
    append_lines(journal, [b"two\n", b"three"])
    assert journal.read_bytes() == b"one\ntwo\nthree\n"
