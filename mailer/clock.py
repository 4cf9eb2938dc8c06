"""The one time zone the tool works in, and "now" in it.

Kept apart from the record model so that commands that only need the time (sending, the
journal) do not load the address validator the records need.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["AMSTERDAM", "now_in_amsterdam"]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def now_in_amsterdam() -> datetime:
    return datetime.now(AMSTERDAM)
