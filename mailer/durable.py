"""Crash-safe file writes, as Maildir and Postfix do them: write a temporary file, flush, fsync,
rename it into place, fsync the folder. A reader sees the old file or the new one, never half.

Everything written here holds children's and parents' data, so files are created 0600.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

StrPath: TypeAlias = str | os.PathLike[str]

__all__ = [
    "append_lines",
    "durable_swap_many",
    "durable_write",
    "private_directory",
    "swap_path",
]

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700

# renameat2(2) with RENAME_EXCHANGE (Linux 3.15+, glibc 2.28+), reached through ctypes: the
# standard library has no binding for it.
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_RENAMEAT2: Any = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)


def private_directory(path: Path) -> Path:
    """Create `path` (and parents) readable by its owner only."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    # mkdir leaves an existing folder as it was (a clone makes `outbox/` 0755): tighten it.
    path.chmod(PRIVATE_DIRECTORY)
    return path


def _fsync_directory(directory: StrPath) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_and_sync(path: StrPath, data: bytes, *, append: bool = False) -> None:
    """Write `data` over `path` (created private if missing), or after its end, and flush it
    to disk.

    An existing file (a swap or temporary file: nobody reads it until the caller renames or
    exchanges it) is overwritten in place and then cut to length, not truncated first:
    truncating frees its blocks and writing allocates them again, which (with `discard`
    mounts) costs more than the write and its fsync together, and swap files are rewritten
    on every state change.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else 0)
    descriptor = os.open(path, flags, PRIVATE_FILE)
    try:
        view = memoryview(data)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
        if not append:
            os.ftruncate(descriptor, len(data))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_synced(path: Path, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, flushed to disk; return its path."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _write_and_sync(temporary, data)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return temporary


def swap_path(path: Path) -> Path:
    """The file `durable_swap_many` keeps beside `path`: it holds an earlier version."""
    return Path(_swap_file(os.fspath(path)))


def _swap_file(path: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.swap")


def durable_swap_many(files: Sequence[tuple[StrPath, bytes]]) -> None:
    """Replace each path with its data, each atomically, all durably when this returns: for
    files that are rewritten often (an outbox message's metadata), in batches (one fsync per
    file and one per folder), without making and deleting a file on every write.

    The new data goes into a swap file kept beside each path, which then trades places with the
    path in one atomic step (renameat2 RENAME_EXCHANGE). Deleting files costs more than writing
    them on ext4 without a journal: every new file is checked against all recently deleted
    ones, so a send run that replaced two files per message slowed down as it went. The swap
    file keeps the previous version; the caller holds the lock that guards it. Where the
    exchange is not available (another system, a file system without it, a first write) the
    swap file is renamed over the path instead.
    """
    written: list[tuple[str, str]] = []
    for path, data in files:
        target = os.fspath(path)
        swap = _swap_file(target)
        _write_and_sync(swap, data)
        written.append((swap, target))
    for swap, target in written:
        if not _exchange(swap, target):
            os.replace(swap, target)
    for directory in dict.fromkeys(os.path.dirname(target) for _, target in written):
        _fsync_directory(directory)


def _exchange(first: str, second: str) -> bool:
    """Swap two files atomically; False where the system cannot (nothing changed then)."""
    if _RENAMEAT2 is None:
        return False
    result = _RENAMEAT2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in {errno.ENOENT, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}:
        return False
    raise OSError(error, os.strerror(error), second)


def durable_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably."""
    _write_synced(path, data).replace(path)
    _fsync_directory(path.parent)


def append_lines(path: Path, lines: Sequence[bytes]) -> None:
    """Append lines durably in one write and one fsync (O_APPEND: concurrent writers' lines stay
    whole)."""
    if not lines:
        return
    chunk = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
    _write_and_sync(path, chunk, append=True)
