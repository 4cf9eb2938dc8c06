"""The event loop the SMTP work runs on, and waiting for work that must finish even when the
waiting task is cancelled (Ctrl-C): a thread cannot be stopped, and a message on the wire or a
commit under way should complete."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LOOP_FACTORY", "cancelled", "run", "through_cancellation"]

_T = TypeVar("_T")


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # not built for every system (Windows): the standard loop does the same
        return None
    return uvloop.new_event_loop


# What `run` makes its loop with (None: the standard loop).
LOOP_FACTORY = _uvloop_factory()


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run `main` to the end, as `asyncio.run` does, on uvloop where it is installed.

    uvloop's event loop and sockets are written in C: each SMTP command costs the sending
    process less CPU than with the standard loop's Python ones, and that process shares the
    CPU with the outbox writer (with four connections `mailer send` went about 5 % faster on
    two cores). `mailer check --smtp` runs on the same loop as `mailer send`, so that what it
    finds (a certificate, a login) holds for sending too.
    """
    with asyncio.Runner(loop_factory=LOOP_FACTORY) as runner:
        return runner.run(main)


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
