"""Commands that send and account for messages.

send, check, resolve, log, purge, demo and smtp-server.
"""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
