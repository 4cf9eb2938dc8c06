"""Waiting for work that must finish even when the waiting task is cancelled (Ctrl-C): a thread
cannot be stopped, and a message on the wire or a commit under way should complete."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["cancelled", "through_cancellation"]

_T = TypeVar("_T")


async def through_cancellation(future: Awaitable[_T]) -> _T:
    """The result of `future`, waiting for it even when this task is cancelled meanwhile. The
    caller re-raises: a cancelled task still has `cancelling()` set after this returns."""
    task = asyncio.ensure_future(future)
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            continue
    return task.result()


def cancelled() -> bool:
    """Whether the current task has been asked to stop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
