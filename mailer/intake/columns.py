"""The columns of an intake file: their names, the Dutch and English names staff use for them,
and how a header as written in a file is matched to one.

A header is matched after folding case, spaces, hyphens and underscores, so `Ouder 1 e-mail`,
`ouder1_email` and `OUDER1-EMAIL` are one column. Problems name a column as staff wrote it.
"""

from __future__ import annotations

import difflib

from mailer.i18n import _

__all__ = [
    "CANONICAL_COLUMNS",
    "COLUMN_ALIASES",
    "REQUIRED_COLUMNS",
    "canonical_column",
    "dutch_name",
    "fold",
    "suggestion_for",
]

CANONICAL_COLUMNS = (
    "id",
    "child_name",
    "group",
    "location",
    "meeting_date",
    "meeting_time",
    "parent1_name",
    "parent1_email",
    "parent2_name",
    "parent2_email",
    "professionals",
    "language",
    "duration_minutes",
)

# Columns without which no row can be valid: a file that lacks one is reported once.
REQUIRED_COLUMNS = (
    "child_name",
    "group",
    "location",
    "meeting_date",
    "meeting_time",
    "professionals",
)

# The name staff see in the README's table and in problems about a column the file lacks.
_DUTCH = {
    "id": "referentie",
    "child_name": "naam_kind",
    "group": "groep",
    "location": "locatie",
    "meeting_date": "datum",
    "meeting_time": "tijd",
    "parent1_name": "ouder1_naam",
    "parent1_email": "ouder1_email",
    "parent2_name": "ouder2_naam",
    "parent2_email": "ouder2_email",
    "professionals": "pedagogisch_professionals",
    "language": "taal",
    "duration_minutes": "duur",
}

# Dutch (and a few common English) column names from planning-system exports and spreadsheets.
COLUMN_ALIASES = {
    "ref": "id",
    "referentie": "id",
    "kenmerk": "id",
    "naam_kind": "child_name",
    "kind": "child_name",
    "child": "child_name",
    "groep": "group",
    "group_name": "group",
    "locatie": "location",
    "vestiging": "location",
    "datum": "meeting_date",
    "date": "meeting_date",
    "tijd": "meeting_time",
    "time": "meeting_time",
    "ouder1_naam": "parent1_name",
    "naam_ouder1": "parent1_name",
    "ouder1_email": "parent1_email",
    "ouder1_emailadres": "parent1_email",
    "email_ouder1": "parent1_email",
    "emailadres_ouder1": "parent1_email",
    "ouder2_naam": "parent2_name",
    "naam_ouder2": "parent2_name",
    "ouder2_email": "parent2_email",
    "ouder2_emailadres": "parent2_email",
    "email_ouder2": "parent2_email",
    "emailadres_ouder2": "parent2_email",
    "pedagogisch_professionals": "professionals",
    "pedagogisch_professional": "professionals",
    "professionals_namen": "professionals",
    "medewerkers": "professionals",
    "taal": "language",
    "duur": "duration_minutes",
    "duur_minuten": "duration_minutes",
}


def fold(name: str) -> str:
    """A header without case, spaces, hyphens and underscores: `Ouder 1 e-mail` -> `ouder1email`."""
    return "".join(char for char in name.casefold() if char not in " -_\t\u00a0")


_BY_FOLDED = {fold(name): name for name in CANONICAL_COLUMNS} | {
    fold(alias): canonical for alias, canonical in COLUMN_ALIASES.items()
}


def canonical_column(name: str) -> str | None:
    """The canonical name of a column header, or None when it is not known."""
    return _BY_FOLDED.get(fold(name))


def dutch_name(canonical: str) -> str:
    """The column's Dutch name, used when a problem is about a column the file does not have."""
    return _DUTCH.get(canonical, canonical)


def suggestion_for(header: str) -> str:
    """The problem to report for a header that is not known, with the nearest known name."""
    shown = header.strip()[:60]
    guesses = difflib.get_close_matches(fold(header)[:60], list(_BY_FOLDED), n=1, cutoff=0.75)
    if guesses:
        guess = dutch_name(_BY_FOLDED[guesses[0]])
        return _("'{header}' is not a known column; did you mean '{guess}'?").format(
            header=shown, guess=guess
        )
    known = ", ".join(dutch_name(name) for name in CANONICAL_COLUMNS)
    return _("'{header}' is not a known column; the known columns are: {known}").format(
        header=shown, known=known
    )
