"""Stop signals (SIGTERM, SIGHUP) that end a send run as Ctrl-C does, inside its event loop.

asyncio cancels the main task on SIGINT; these do the same, so a stopped run gives back what was
not yet on its way and records the outcome of what was being handed over.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Collection, Iterator
from typing import Any

__all__ = ["stop_signals_cancel"]


@contextlib.contextmanager
def stop_signals_cancel(
    numbers: Collection[signal.Signals], stopped_by: Callable[[str], None]
) -> Iterator[None]:
    """While the block lasts, these signals cancel the current (main) task after telling
    `stopped_by` the signal's name; the handlers from before are put back afterwards."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(number: signal.Signals) -> None:
        stopped_by(number.name)
        if main is not None:
            main.cancel()

    for number in numbers:
        handler = signal.getsignal(number)
        try:
            loop.add_signal_handler(number, on_signal, number)
        except (RuntimeError, ValueError, NotImplementedError):
            continue  # not the main thread, or Windows: Ctrl-C still works
        previous[number] = handler
    try:
        yield
    finally:
        for number, handler in previous.items():
            loop.remove_signal_handler(number)
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(number, handler)
