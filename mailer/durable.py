"""Crash-safe file writes, as Maildir and Postfix do them: write a temporary file, flush, fsync,
rename it into place, fsync the folder. A reader sees the old file or the new one, never half.

Everything written here holds children's and parents' data, so files are created 0600.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["append_line", "durable_write", "private_directory"]

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


def durable_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably."""
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
    temporary.replace(path)
    _fsync_directory(path.parent)


def append_line(path: Path, line: bytes) -> None:
    """Append one line durably. O_APPEND keeps concurrent writers' lines whole and in one piece."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    try:
        os.write(descriptor, line if line.endswith(b"\n") else line + b"\n")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
