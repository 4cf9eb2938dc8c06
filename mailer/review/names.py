"""The names people decide under: checked when given, and compared as a reader would compare them.

A name is kept in Unicode's compatibility form (NFKC), so a full-width "Ａｎｎａ" or a ligature is
the same text as its plain spelling, and compared without case. A name that mixes scripts (a
Cyrillic "А" in "Аnna") looks like another person's name while being different text, so it is
refused instead of compared.
"""

from __future__ import annotations

import unicodedata

from mailer.errors import OutboxError
from mailer.i18n import _
from mailer.text_safety import has_control_characters

__all__ = ["check_person_name", "mixes_scripts", "name_key", "same_person"]

MAX_NAME_LENGTH = 80

# Scripts that are written together in one name (Japanese, Korean).
_WRITTEN_TOGETHER = {
    "HIRAGANA": "CJK",
    "KATAKANA": "CJK",
    "KATAKANA-HIRAGANA": "CJK",
    "HANGUL": "CJK",
}


def _script(char: str) -> str | None:
    """The script of a letter, from the first word of its Unicode name (LATIN, CYRILLIC, GREEK,
    CJK, ...); None for what is not a letter of a script (spaces, marks, digits, apostrophes)."""
    if unicodedata.category(char) not in {"Lu", "Ll", "Lt", "Lo"}:
        return None
    script = unicodedata.name(char, "UNKNOWN").split(" ")[0]
    return _WRITTEN_TOGETHER.get(script, script)


def mixes_scripts(name: str) -> bool:
    """True when the letters of `name` come from more than one script."""
    return len({script for char in name if (script := _script(char))}) > 1


def check_person_name(name: str, role: str = "--by") -> str:
    """A decider's name in its compatibility form (NFKC), refused when empty, too long, holding
    control characters, or mixing scripts."""
    cleaned = unicodedata.normalize("NFKC", name).strip()
    if not cleaned or has_control_characters(cleaned) or len(cleaned) > MAX_NAME_LENGTH:
        raise OutboxError(
            _("{role}: give the name of the person who decides, e.g. --by 'Anna'").format(role=role)
        )
    if mixes_scripts(cleaned):
        raise OutboxError(
            _(
                "{role}: the name mixes letters of different alphabets (for example a Cyrillic "
                "'А' among Latin letters); type it again in one alphabet"
            ).format(role=role)
        )
    return cleaned


def name_key(name: str) -> str:
    """What two names are compared by: their compatibility form without case."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def same_person(first: str, second: str) -> bool:
    return name_key(first) == name_key(second)
