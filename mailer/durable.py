"""Private files written so that a crash leaves the old version or the new one, never half.

Used for the few files outside the outbox database (the template sign-offs, the sign-in token
cache, previews). Everything written here may hold personal data, so files are created 0600
and folders 0700.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["PRIVATE_DIRECTORY", "PRIVATE_FILE", "durable_write", "private_directory"]

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700


def private_directory(path: Path) -> Path:
    """Create `path` (and parents) readable by its owner only."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    # mkdir leaves an existing folder as it was (a clone makes `outbox/` 0755): tighten it.
    path.chmod(PRIVATE_DIRECTORY)
    return path


def durable_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably: write a temporary file beside it,
    flush it to disk, then rename it into place (as Maildir and Postfix do)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable. Windows cannot open a folder this way, and its file
    system records a rename without being asked."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
