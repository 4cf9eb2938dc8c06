"""The CSS a letter may keep: an allow-list of properties and of what their values may hold.

A mail client fetches whatever a stylesheet points at (`url(...)`, `image-set(...)`, `@import`,
`@font-face`), and CSS can spell those in many ways (`u\\72l(`, comments inside `@import`). So
nothing is searched for: the CSS is parsed (tinycss2 decodes escapes and comments as a browser
does) and rebuilt from what is known to be harmless: plain properties whose values hold only
words, numbers, colours and strings, in plain rules or `@media` rules. The rest is dropped and
reported with its line.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import tinycss2
from tinycss2 import ast

__all__ = ["CssRemoval", "clean_declarations", "clean_stylesheet"]

_SIDES = ("top", "right", "bottom", "left")
_CORNERS = ("top-left", "top-right", "bottom-right", "bottom-left")
# Layout, text and colour: what the letters use, and nothing that takes an image or a URL
# (`background` may, but only `url()`/`image-set()` values do, and those never pass below).
ALLOWED_PROPERTIES = frozenset(
    {
        "color",
        "background",
        "background-color",
        "font",
        "font-family",
        "font-size",
        "font-style",
        "font-variant",
        "font-weight",
        "line-height",
        "letter-spacing",
        "word-spacing",
        "text-align",
        "text-decoration",
        "text-decoration-color",
        "text-decoration-line",
        "text-decoration-style",
        "text-indent",
        "text-transform",
        "white-space",
        "word-break",
        "word-wrap",
        "overflow-wrap",
        "vertical-align",
        "direction",
        "margin",
        "padding",
        "border",
        "border-color",
        "border-style",
        "border-width",
        "border-radius",
        "border-collapse",
        "border-spacing",
        "width",
        "min-width",
        "max-width",
        "height",
        "min-height",
        "max-height",
        "display",
        "table-layout",
        "caption-side",
        "empty-cells",
        "list-style-type",
        "list-style-position",
        "float",
        "clear",
        "overflow",
        "box-sizing",
        "opacity",
        "visibility",
        "color-scheme",
        "supported-color-schemes",
        "text-size-adjust",
        "-webkit-text-size-adjust",
        "-ms-text-size-adjust",
        "mso-line-height-rule",
        "mso-table-lspace",
        "mso-table-rspace",
        "mso-padding-alt",
        "mso-hide",
        *(f"margin-{side}" for side in _SIDES),
        *(f"padding-{side}" for side in _SIDES),
        *(f"border-{side}" for side in _SIDES),
        *(f"border-{side}-{part}" for side in _SIDES for part in ("color", "style", "width")),
        *(f"border-{corner}-radius" for corner in _CORNERS),
    }
)
# Functions that compute a colour or a length; `url`, `image-set`, `image`, `var`, `attr`,
# `expression` and every other function are refused.
_VALUE_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla", "calc"})
_SELECTOR_FUNCTIONS = frozenset(
    {"not", "is", "where", "lang", "nth-child", "nth-last-child", "nth-of-type", "nth-last-of-type"}
)
_PLAIN_TOKENS = (
    ast.WhitespaceToken,
    ast.IdentToken,
    ast.HashToken,
    ast.NumberToken,
    ast.PercentageToken,
    ast.DimensionToken,
    ast.StringToken,
    ast.LiteralToken,
)


@dataclass(frozen=True)
class CssRemoval:
    """One thing left out of the CSS: its line (1-based, in the CSS text) and what it was."""

    line: int
    what: str


def _plain(tokens: Iterable[Any], functions: frozenset[str]) -> bool:
    """Whether `tokens` hold only words, numbers, colours, strings and allowed functions."""
    for token in tokens:
        if isinstance(token, ast.FunctionBlock):
            if token.lower_name not in functions or not _plain(token.arguments, functions):
                return False
        elif isinstance(token, ast.ParenthesesBlock | ast.SquareBracketsBlock):
            # `(prefers-color-scheme: dark)`, `[type=a]`: brackets of plain content only.
            if not _plain(token.content, functions):
                return False
        elif not isinstance(token, _PLAIN_TOKENS):
            return False
    return True


def _shown(node: Any) -> str:
    return " ".join(tinycss2.serialize([node]).split()).rstrip(";").strip()[:120]


def _declarations(nodes: Sequence[Any]) -> tuple[list[str], list[CssRemoval]]:
    kept: list[str] = []
    removed: list[CssRemoval] = []
    for node in nodes:
        if isinstance(node, ast.WhitespaceToken | ast.Comment | ast.LiteralToken):
            continue
        if (
            isinstance(node, ast.Declaration)
            and node.lower_name in ALLOWED_PROPERTIES
            and _plain(node.value, _VALUE_FUNCTIONS)
        ):
            value = " ".join(tinycss2.serialize(node.value).split())
            kept.append(f"{node.lower_name}: {value}" + (" !important" if node.important else ""))
        else:
            removed.append(CssRemoval(node.source_line, _shown(node)))
    return kept, removed


# A letter repeats the same few style attributes and one style block; every letter of a run
# repeats them again, so each distinct text is parsed once.
@functools.lru_cache(maxsize=4096)
def clean_declarations(css: str) -> tuple[str, tuple[CssRemoval, ...]]:
    """The declarations of a `style` attribute that may stay, and what was left out."""
    nodes = tinycss2.parse_blocks_contents(css, skip_comments=True, skip_whitespace=True)
    kept, removed = _declarations(nodes)
    return "; ".join(kept), tuple(removed)


def _rules(nodes: Sequence[Any]) -> tuple[list[str], list[CssRemoval]]:
    kept: list[str] = []
    removed: list[CssRemoval] = []
    for node in nodes:
        if isinstance(node, ast.WhitespaceToken | ast.Comment):
            continue
        if isinstance(node, ast.QualifiedRule) and _plain(node.prelude, _SELECTOR_FUNCTIONS):
            inner = tinycss2.parse_blocks_contents(node.content, skip_whitespace=True)
            declarations, dropped = _declarations(inner)
            removed.extend(dropped)
            if declarations:
                selector = " ".join(tinycss2.serialize(node.prelude).split())
                kept.append(f"{selector} {{ {'; '.join(declarations)} }}")
        elif (
            isinstance(node, ast.AtRule)
            and node.lower_at_keyword == "media"
            and node.content is not None
            and _plain(node.prelude, frozenset())
        ):
            inner_rules, dropped = _rules(
                tinycss2.parse_rule_list(node.content, skip_comments=True, skip_whitespace=True)
            )
            removed.extend(dropped)
            if inner_rules:
                media = " ".join(tinycss2.serialize(node.prelude).split())
                kept.append(f"@media {media} {{\n" + "\n".join(inner_rules) + "\n}")
        else:
            removed.append(CssRemoval(node.source_line, _shown(node)))
    return kept, removed


@functools.lru_cache(maxsize=64)
def clean_stylesheet(css: str) -> tuple[str, tuple[CssRemoval, ...]]:
    """The rules of a `<style>` block that may stay (plain and `@media` rules with allowed
    declarations), and what was left out."""
    nodes = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    kept, removed = _rules(nodes)
    # The result goes inside <style>: a `<` (only possible in a string) is written as the CSS
    # escape, so that no `</style>` can end the element early.
    return "\n".join(kept).replace("<", "\\3c "), tuple(removed)
