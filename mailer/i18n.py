"""The language of everything a person reads: command output, errors, prompts, help and the page.

Texts are written in the code in English and wrapped in `_()` (or `ngettext()` when they hold a
count); the Dutch catalog `mailer/locale/nl/LC_MESSAGES/mailer.po` gives each its Dutch wording.
The catalog is compiled when it is first needed, so an installed package needs no build step.
Dutch is the default; `MAILER_UI_LANGUAGE` or the setting `ui_language` chooses English.
Letters have their own language per record (`mailer.letters.wording`); this module is for staff.
"""

from __future__ import annotations

import functools
import gettext
import io
import os
from importlib import resources

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "_",
    "current_language",
    "ngettext",
    "set_language",
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


@functools.cache
def _translations(language: str) -> gettext.NullTranslations:
    # The texts in the code are English, so English needs no catalog.
    if language == "en":
        return gettext.NullTranslations()
    # Imported on first use: importing the CLI (and `send` with it) does not load babel.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog_file = resources.files("mailer") / "locale" / language / "LC_MESSAGES" / "mailer.po"
    with catalog_file.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    # A fuzzy entry is a guess that nobody checked: it is shown in English rather than guessed.
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message: str) -> str:
    """`message` in the current language."""
    return _translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of `singular`/`plural` that fits `count`, in the current language."""
    return _translations(current_language()).ngettext(singular, plural, count)
