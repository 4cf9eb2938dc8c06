"""The Jinja2 environment letters are rendered in: sandboxed, strict, and bounded.

Staff edit the templates, so a template gets plain data and runs in the immutable sandbox
(which, from Jinja2 3.1.6, also blocks `attr("format")`, CVE-2025-27516). A template can also
simply run too long: a loop of a million steps, a macro that calls itself, a string multiplied
into gigabytes. Each of these is stopped early with a `TemplateRuntimeError` that names the
template line, instead of hanging or ending in a traceback.
"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Iterator
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mailer.i18n import _

__all__ = ["MAX_LOOP_STEPS", "MAX_OUTPUT", "LetterEnvironment", "loop_budget"]

# A letter has a few lists of a few names; ten thousand loop steps is far more than any needs.
MAX_LOOP_STEPS = 10_000
# The longest text a letter part may become, in characters (a letter is a few kilobytes).
MAX_OUTPUT = 1_000_000

_steps_left: contextvars.ContextVar[int] = contextvars.ContextVar("steps_left", default=0)


class loop_budget:  # noqa: N801 (used as a `with` statement, like contextlib's helpers)
    """Give one render `MAX_LOOP_STEPS` steps of `range()` in all, however the loops nest."""

    def __enter__(self) -> None:
        self._token = _steps_left.set(MAX_LOOP_STEPS)

    def __exit__(self, *exc_info: object) -> None:
        _steps_left.reset(self._token)


def _too_long() -> jinja2.TemplateRuntimeError:
    return jinja2.TemplateRuntimeError(
        _(
            "the template repeats something more than {limit} times; check the loop (`for`) "
            "on this line"
        ).format(limit=f"{MAX_LOOP_STEPS:,}")
    )


def _too_large() -> jinja2.TemplateRuntimeError:
    return jinja2.TemplateRuntimeError(
        _("the template makes a text or number far too large for a letter; check this line")
    )


def _bounded_range(*args: int) -> Iterator[int]:
    """`range()` that draws every step from the render's budget, so nested loops are counted
    together and a loop over a million numbers stops at the limit."""
    for number in range(*args):
        left = _steps_left.get()
        if left <= 0:
            raise _too_long()
        _steps_left.set(left - 1)
        yield number


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


class LetterEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with `range` on a budget and no way to make huge values."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # `lipsum(n)` makes any amount of text; a letter has no use for it.
        self.globals.pop("lipsum", None)
        self.globals["range"] = _bounded_range

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int) and abs(right) > 64:
                raise _too_large()
            return operator.pow(left, right)
        for sequence, count in ((left, right), (right, left)):
            size = _size(sequence)
            if size is not None and isinstance(count, int) and size * count > MAX_OUTPUT:
                raise _too_large()
        return operator.mul(left, right)
