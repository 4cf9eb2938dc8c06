"""The Dutch catalog holds every text the program shows, checked against the code itself.

Babel extracts every `_()`, `ngettext()` and `N_()` text from `mailer/` exactly as
`make catalog` does; each must have a Dutch translation that nobody marked as a guess (fuzzy)
and that uses the same `{fields}` as the English, so `.format()` cannot fail in Dutch.
"""

from __future__ import annotations

import string
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from mailer.i18n import read_catalog

PACKAGE = Path(__file__).resolve().parent.parent / "mailer"
CATALOG = PACKAGE / "locale" / "nl" / "LC_MESSAGES" / "mailer.po"
# The same keywords as `make catalog`: N_ marks a text that is translated later.
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}


def extracted() -> dict[str, tuple[str, ...]]:
    """Each msgid (the singular of a plural) with its forms, and where it was found."""
    found: dict[str, tuple[str, ...]] = {}
    for filename, line, message, _, _ in extract_from_dir(
        PACKAGE, method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        forms = message if isinstance(message, tuple) else (message,)
        if forms[0]:
            found.setdefault(forms[0], (*forms, f"mailer/{filename}:{line}"))
    return found


def dutch() -> Catalog:
    with CATALOG.open("rb") as handle:
        return read_po(handle, locale="nl")


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_code_holds_texts_to_translate() -> None:
    texts = extracted()
    assert "Show this message and exit." in texts
    assert len(texts) > 50


def test_every_text_of_the_program_has_a_dutch_translation() -> None:
    catalog = dutch()
    missing = []
    for msgid, (*forms, where) in extracted().items():
        entry = catalog.get(msgid)
        translations = () if entry is None else entry.string
        translations = translations if isinstance(translations, tuple) else (translations,)
        if entry is None or not all(translations) or len(forms) != len(translations):
            missing.append(f"{where}: {msgid!r}")
    assert not missing, "no Dutch in mailer.po for:\n" + "\n".join(missing)


def test_no_dutch_translation_is_a_guess() -> None:
    fuzzy = [str(message.id) for message in dutch() if message.id and message.fuzzy]
    assert not fuzzy, "fuzzy (unchecked) entries in mailer.po:\n" + "\n".join(fuzzy)


def test_dutch_uses_the_same_fields_as_english() -> None:
    wrong = []
    for message in dutch():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set().union(*(fields(text) for text in ids))
        for text in strings:
            # A singular may leave out the count ("één bericht"); no form may add a field.
            if not fields(text) <= expected or (len(ids) == 1 and fields(text) != expected):
                wrong.append(f"{ids[0]!r} -> {text!r}")
    assert not wrong, "fields differ between English and Dutch:\n" + "\n".join(wrong)


def test_the_programs_own_reader_finds_every_translation_babel_finds() -> None:
    ours = read_catalog(CATALOG.read_text(encoding="utf-8"))
    for message in dutch():
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            strings = message.string
            assert isinstance(strings, tuple)
            assert ours.ngettext(message.id[0], message.id[1], 1) == strings[0]
            assert ours.ngettext(message.id[0], message.id[1], 7) == strings[1]
        else:
            assert ours.gettext(message.id) == message.string, message.id
