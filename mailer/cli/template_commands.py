"""Commands for the team's work on the letter: template check/preview/approve, rerender, cancel."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mailer` app."""
