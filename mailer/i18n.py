"""The language of everything a person reads: command output, errors, prompts, help and the page.

Texts are written in the code in English and wrapped in `_()` (or `ngettext()` when they hold a
count); the Dutch catalog `mailer/locale/nl/LC_MESSAGES/mailer.po` gives each its Dutch wording.
The catalog is read when it is first needed, so an installed package needs no build step. It is
read by the small reader below rather than by Babel: Babel (and its date and locale data) would
add a tenth of a second to the start of every command, `mailer send` included; Babel stays the
tool that extracts and checks the catalog (`make catalog`, tests/test_catalog.py).
Dutch is the default; `MAILER_UI_LANGUAGE` or the setting `ui_language` chooses English.
Letters have their own language per record (`mailer.letters.wording`); this module is for staff.
"""

from __future__ import annotations

import ast
import functools
import os
from importlib import resources

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Catalog",
    "_",
    "current_language",
    "ngettext",
    "read_catalog",
    "set_language",
    "state_name",
]

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
LANGUAGE_VARIABLE = "MAILER_UI_LANGUAGE"

_chosen: str | None = None


def set_language(language: str | None) -> None:
    """Choose the language for the rest of the process (`None` goes back to the default)."""
    global _chosen
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    _chosen = language


def current_language() -> str:
    """The chosen language, else `MAILER_UI_LANGUAGE` when it names a known one, else Dutch."""
    if _chosen is not None:
        return _chosen
    from_environment = os.environ.get(LANGUAGE_VARIABLE, "").strip().lower()[:2]
    return from_environment if from_environment in LANGUAGES else DEFAULT_LANGUAGE


class Catalog:
    """The checked translations of one language: a text without one stays in English."""

    def __init__(self, singular: dict[str, str], plural: dict[str, tuple[str, ...]]) -> None:
        self.singular = singular
        self.plural = plural

    def gettext(self, message: str) -> str:
        return self.singular.get(message) or message

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        forms = self.plural.get(singular)
        # Dutch and English both have one form for 1 and one for every other number.
        index = 0 if count == 1 else 1
        if forms and len(forms) > index and forms[index]:
            return forms[index]
        return singular if count == 1 else plural


def _po_string(text: str) -> str:
    # A PO string is a double-quoted C string; its escapes (\n, \", \\) are Python's too.
    value = ast.literal_eval(text)
    if not isinstance(value, str):
        raise ValueError(f"not a string: {text!r}")
    return value


def read_catalog(text: str) -> Catalog:
    """The entries of a PO file (msgid, msgid_plural, msgstr, msgstr[N], `#, fuzzy`); a fuzzy
    entry is a guess that nobody checked and is left out, as `msgfmt` does."""
    singular: dict[str, str] = {}
    plural: dict[str, tuple[str, ...]] = {}
    entry: dict[str, str] = {}
    fuzzy = False
    last = ""

    def keep() -> None:
        msgid = entry.get("msgid", "")
        if msgid and not fuzzy:
            if "msgid_plural" in entry:
                count = len([key for key in entry if key.startswith("msgstr[")])
                plural[msgid] = tuple(entry[f"msgstr[{n}]"] for n in range(count))
            else:
                singular[msgid] = entry.get("msgstr", "")

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith('"'):
            entry[last] += _po_string(line)
            continue
        if line.startswith("#") or line.startswith("msgid ") or not line:
            if "msgstr" in entry or "msgstr[0]" in entry:
                keep()
                entry, fuzzy = {}, False
            if line.startswith("#,"):
                fuzzy = "fuzzy" in line
            if not line.startswith("msgid "):
                continue
        keyword, _, value = line.partition(" ")
        last = keyword
        entry[keyword] = _po_string(value)
    if "msgstr" in entry or "msgstr[0]" in entry:
        keep()
    return Catalog(singular, plural)


@functools.cache
def _translations(language: str) -> Catalog:
    # The texts in the code are English, so English needs no catalog.
    if language == "en":
        return Catalog({}, {})
    catalog_file = resources.files("mailer") / "locale" / language / "LC_MESSAGES" / "mailer.po"
    return read_catalog(catalog_file.read_text(encoding="utf-8"))


def _(message: str) -> str:
    """`message` in the current language."""
    return _translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of `singular`/`plural` that fits `count`, in the current language."""
    return _translations(current_language()).ngettext(singular, plural, count)


def state_name(state: str) -> str:
    """A message's state (`pending`, `sent`, ...) as a word in the current language; `--json`
    and the database keep the English value."""
    names = {
        "pending": _("pending"),
        "approved": _("approved"),
        "rejected": _("rejected"),
        "sending": _("sending"),
        "sent": _("sent"),
        "failed": _("failed"),
        "unknown": _("unknown"),
    }
    return names.get(str(state), str(state))
