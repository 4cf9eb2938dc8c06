"""The language layer: reading the catalog, plurals, fuzzy entries, and choosing the language."""

from __future__ import annotations

import pytest

from mailer.i18n import _, current_language, ngettext, read_catalog, set_language, state_name

SAMPLE = r"""
# A comment
msgid ""
msgstr ""
"Language: nl\n"

msgid "Signed out."
msgstr "Uitgelogd."

#, fuzzy
msgid "A guess"
msgstr "Een gok"

#, python-brace-format
msgid "{count} message written to {folder}."
msgid_plural "{count} messages written to {folder}."
msgstr[0] "{count} bericht geschreven naar {folder}."
msgstr[1] "{count} berichten geschreven naar {folder}."

msgid ""
"Two lines "
"with \"quotes\"\n"
"and a break."
msgstr "Twee regels met \"aanhalingstekens\"\nen een overgang."
msgid "No blank line before me"
msgstr ""
"""


def test_the_reader_takes_plain_plural_and_multiline_entries() -> None:
    catalog = read_catalog(SAMPLE)
    assert catalog.gettext("Signed out.") == "Uitgelogd."
    one = catalog.ngettext("{count} message written to {folder}.", "x", 1)
    many = catalog.ngettext("{count} message written to {folder}.", "x", 3)
    assert one == "{count} bericht geschreven naar {folder}."
    assert many == "{count} berichten geschreven naar {folder}."
    assert catalog.gettext('Two lines with "quotes"\nand a break.') == (
        'Twee regels met "aanhalingstekens"\nen een overgang.'
    )


def test_a_fuzzy_or_empty_or_unknown_entry_stays_english() -> None:
    catalog = read_catalog(SAMPLE)
    assert catalog.gettext("A guess") == "A guess"
    assert catalog.gettext("No blank line before me") == "No blank line before me"
    assert catalog.gettext("Never translated") == "Never translated"
    assert catalog.ngettext("{n} thing", "{n} things", 2) == "{n} things"


def test_dutch_is_the_default_and_the_environment_or_a_choice_changes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAILER_UI_LANGUAGE", raising=False)
    assert current_language() == "nl"
    assert _("There was no stored sign-in; nothing was changed.") == (
        "Er was geen bewaarde aanmelding; er is niets veranderd."
    )
    assert state_name("pending") == "wacht op beoordeling"
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")
    assert current_language() == "en"
    assert state_name("pending") == "pending"
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "klingon")
    assert current_language() == "nl"
    set_language("en")
    try:
        assert ngettext("{count} message written to {folder}.", "{count} messages", 2) == (
            "{count} messages"
        )
    finally:
        set_language(None)
    with pytest.raises(ValueError, match="unknown language"):
        set_language("fr")
