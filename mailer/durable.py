"""Crash-safe file writes, as Maildir and Postfix do them: write a temporary file, flush, fsync,
rename it into place, fsync the folder. A reader sees the old file or the new one, never half.

Everything written here holds children's and parents' data, so files are created 0600.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "append_lines",
    "durable_write",
    "durable_write_many",
    "private_directory",
]

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700


def private_directory(path: Path) -> Path:
    """Create `path` (and parents) readable by its owner only."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    # mkdir leaves an existing folder as it was (a clone makes `outbox/` 0755): tighten it.
    path.chmod(PRIVATE_DIRECTORY)
    return path


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_synced(path: Path, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, flushed to disk; return its path."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        view = memoryview(data)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
        os.fsync(descriptor)
    except BaseException:
        os.close(descriptor)
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    os.close(descriptor)
    return temporary


def durable_write_many(files: Sequence[tuple[Path, bytes]]) -> None:
    """Replace each path with its data, each atomically, all durably when this returns.

    One fsync per file and one per folder instead of two per file: a sender records a batch of
    messages at once. A crash halfway leaves every file either old or new.
    """
    written: list[tuple[Path, Path]] = []
    try:
        for path, data in files:
            written.append((_write_synced(path, data), path))
    except BaseException:
        for temporary, _ in written:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        raise
    for temporary, path in written:
        temporary.replace(path)
    for directory in dict.fromkeys(path.parent for path, _ in files):
        _fsync_directory(directory)


def durable_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably."""
    durable_write_many([(path, data)])


def append_lines(path: Path, lines: Sequence[bytes]) -> None:
    """Append lines durably in one write and one fsync (O_APPEND: concurrent writers' lines stay
    whole)."""
    if not lines:
        return
    chunk = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    try:
        view = memoryview(chunk)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
