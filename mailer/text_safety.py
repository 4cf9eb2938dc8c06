"""Checks for text that will end up in a mail header.

This Python (3.11.7) predates the fix for CVE-2024-6923: an *encoded* CR/LF (`=?utf-8?q?=0D=0A?=`)
in a header value is written out as a real header line. So every value that reaches a header is
refused when it holds control characters or encoded-word syntax, before any message is built.
"""

from __future__ import annotations

import unicodedata

from mailer.i18n import _

__all__ = ["check_header_safe", "has_control_characters"]


def has_control_characters(text: str) -> bool:
    """True when `text` holds a control, format-control or line/paragraph separator character."""
    return any(unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} for char in text)


def check_header_safe(text: str) -> str:
    """Return `text` unchanged, or raise ValueError when it could forge or split a header."""
    if has_control_characters(text):
        raise ValueError(_("contains a line break or another control character"))
    if "=?" in text:
        raise ValueError(_("contains '=?', which mail programs read as encoded text; remove it"))
    return text
