"""Every Dutch word of the review page in one place: labels, state names and messages.

Reviewers are Dutch childcare staff, so the page speaks Dutch; the core's problems (in English, as
the CLI prints them) are put into Dutch here, and an unknown one is shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailer.outbox.store import State

__all__ = [
    "DECIDED",
    "KIND_NAMES",
    "MESSAGES",
    "PAGE",
    "STATE_HINTS",
    "STATE_NAMES",
    "STATE_ORDER",
    "note_in_dutch",
    "problem_in_dutch",
]

# The order of the overview: what needs a person first.
STATE_ORDER = (
    State.PENDING,
    State.UNKNOWN,
    State.FAILED,
    State.APPROVED,
    State.SENDING,
    State.SENT,
    State.REJECTED,
)

STATE_NAMES: dict[State, str] = {
    State.PENDING: "Wacht op beoordeling",
    State.APPROVED: "Goedgekeurd",
    State.REJECTED: "Afgewezen",
    State.SENDING: "Wordt nu verzonden",
    State.SENT: "Verzonden",
    State.FAILED: "Mislukt",
    State.UNKNOWN: "Onbekend of aangekomen",
}

STATE_HINTS: dict[State, str] = {
    State.PENDING: "Lees elke brief en keur hem goed of wijs hem af.",
    State.APPROVED: "Deze brieven gaan mee bij de volgende verzending.",
    State.REJECTED: "Deze brieven worden niet verzonden.",
    State.SENDING: "Deze brieven worden op dit moment verzonden.",
    State.SENT: "De mailserver heeft deze brieven aangenomen.",
    State.FAILED: "Deze brieven konden niet worden verzonden; zie het probleem per brief.",
    State.UNKNOWN: "Niet bekend of deze brieven zijn aangekomen; beslis met `mailer resolve`.",
}

DECIDED: dict[str, str] = {
    "approved": "goedgekeurd door {by}",
    "rejected": "afgewezen door {by}: {reason}",
}

KIND_NAMES: dict[str, str] = {
    "invitation": "Uitnodiging",
    "update": "Gewijzigde uitnodiging",
    "cancellation": "Afzegging",
}

# Notes the core writes in a message's history, in Dutch; others are shown as they are.
_NOTES: dict[str, str] = {
    "queued": "klaargezet",
    "approved": "goedgekeurd",
    "approved although the template version has no sign-off": (
        "goedgekeurd, hoewel de sjabloonversie niet was vastgesteld"
    ),
    "rejected (the reason is kept with the message)": "afgewezen (de reden staat bij het bericht)",
}

PAGE: dict[str, str] = {
    "app_title": "Uitnodigingen beoordelen",
    "overview": "Overzicht",
    "overview_intro": (
        "Alle brieven in de outbox, per status. Klik op de naam van een kind om de brief te lezen."
    ),
    "empty": "De outbox is leeg. Zet eerst intakegegevens klaar met `mailer queue BESTAND`.",
    "child": "Kind",
    "meeting": "Gesprek",
    "recipients": "Aan",
    "problem": "Probleem",
    "select": "Kies",
    "open": "Openen",
    "approve_selected": "Gekozen brieven goedkeuren",
    "approve_selected_hint": "Keur alleen brieven goed die u hebt gelezen.",
    "you_are": "U beoordeelt als",
    "change_name": "andere naam",
    "name_title": "Wie beoordeelt er?",
    "name_intro": (
        "Uw naam wordt bij elke goedkeuring en afwijzing bewaard. U vult hem één keer in; "
        "de pagina onthoudt hem zolang deze sessie loopt."
    ),
    "name_label": "Uw naam",
    "name_save": "Verder",
    "back": "Terug naar het overzicht",
    "subject": "Onderwerp",
    "state": "Status",
    "queued": "Klaargezet",
    "approved": "Goedgekeurd",
    "rejected": "Afgewezen",
    "by": "door",
    "reason": "Reden",
    "letter_html": "De brief zoals ouders hem zien",
    "letter_html_note": (
        "Getoond in een afgeschermd kader: scripts en afbeeldingen van internet worden geblokkeerd."
    ),
    "letter_text": "Tekstversie (voor e-mailprogramma's zonder opmaak)",
    "calendar": "Afspraak in de agenda-uitnodiging",
    "calendar_none": "Dit bericht heeft geen agenda-uitnodiging.",
    "calendar_what": "Wat",
    "calendar_start": "Begin",
    "calendar_end": "Einde",
    "calendar_where": "Waar",
    "calendar_organizer": "Organisator",
    "calendar_attendees": "Genodigden",
    "history": "Geschiedenis",
    "history_when": "Wanneer",
    "history_change": "Wijziging",
    "history_who": "Wie",
    "history_note": "Toelichting",
    "decide": "Beslissen",
    "approve": "Goedkeuren",
    "approve_hint": "U keurt precies deze versie van de brief goed.",
    "reject": "Afwijzen",
    "reject_reason_label": "Reden van afwijzen (verplicht)",
    "no_decision": "Over dit bericht valt nu niets te beslissen.",
    "no_html": "Dit bericht heeft geen HTML-deel.",
    "no_text": "Dit bericht heeft geen tekstdeel.",
    "frame_title": "Voorbeeld van de brief",
    "refused_title": "Geen toegang",
    "error_title": "Er ging iets mis",
    "error_intro": (
        "De pagina kon dit niet tonen. Hieronder staat wat er misging (in het Engels, zoals "
        "`mailer` het ook in de terminal meldt); geef dit door aan wie de mailer beheert."
    ),
    "new": "nieuw",
    "kind": "Soort",
}

MESSAGES: dict[str, str] = {
    "no_token": (
        "Geen toegang: open de pagina via het adres dat `mailer review` liet zien "
        "(met het geheime token erin)."
    ),
    "bad_host": "Geen toegang: deze pagina is alleen bereikbaar via 127.0.0.1 of localhost.",
    "bad_origin": (
        "Geweigerd: dit verzoek kwam niet van de beoordelingspagina zelf. "
        "Ga terug naar het overzicht en probeer het opnieuw."
    ),
    "bad_csrf": (
        "Geweigerd: het formulier is verlopen of komt niet van deze pagina. "
        "Laad de pagina opnieuw en probeer het nog eens."
    ),
    "name_invalid": "Vul uw naam in (hoogstens 80 tekens, zonder speciale tekens).",
    "name_saved": "Welkom, {name}. Uw beslissingen worden onder deze naam bewaard.",
    "not_found": "Bericht {id} staat niet (meer) in de outbox. Ga terug naar het overzicht.",
    "approved": "Goedgekeurd: de brief voor {child} ({id}).",
    "approved_many": "{count} brief/brieven goedgekeurd.",
    "none_selected": "U hebt geen brieven gekozen; vink eerst de brieven aan die u goedkeurt.",
    "rejected": "Afgewezen: de brief voor {child} ({id}). De reden is bij het bericht bewaard.",
    "reason_missing": "Geef een reden op waarom u de brief voor {child} afwijst.",
    "stale": (
        "Niet goedgekeurd: de brief voor {child} is veranderd nadat u hem opende. "
        "Lees de nieuwe versie en keur die opnieuw goed."
    ),
    "already_approved": "De brief voor {child} was al goedgekeurd door {by}.",
    "four_eyes": (
        "Niet goedgekeurd: u hebt de brief voor {child} zelf klaargezet. "
        "Het vier-ogenprincipe geldt: een collega moet hem goedkeuren."
    ),
    "unsigned_template": (
        "Niet goedgekeurd: de brief voor {child} is gemaakt met sjabloonversie {version}, "
        "die het team nog niet heeft vastgesteld. Vraag degene die de sjablonen beheert om "
        "`mailer template approve --by NAAM`; daarna kunt u hier goedkeuren."
    ),
    "wrong_state": (
        "Niet gelukt: de brief voor {child} heeft nu de status '{state}' en kan niet meer "
        "worden goedgekeurd of afgewezen. Ververs de pagina."
    ),
    "other": "Niet gelukt voor de brief voor {child}: {detail}",
    "html_changed": (
        "Deze brief is veranderd nadat de pagina werd geladen. Ververs de pagina om de nieuwe "
        "versie te zien."
    ),
}

# The core's problems (see `mailer.review.summary.message_problems`), in Dutch.
_PROBLEMS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"the message changed after it was approved"),
        lambda _: (
            "De brief is veranderd nadat hij werd goedgekeurd; lees hem en keur hem opnieuw goed."
        ),
    ),
    (
        re.compile(r"template version (\S+) has no team sign-off"),
        lambda match: (
            f"Sjabloonversie {match.group(1)} is nog niet door het team vastgesteld; "
            "goedkeuren kan pas na `mailer template approve`."
        ),
    ),
    (
        re.compile(r"^not delivered to (.+)$"),
        lambda match: f"Niet afgeleverd bij {match.group(1)}.",
    ),
    (
        re.compile(r"may or may not have arrived"),
        lambda _: (
            "Niet bekend of de brief is aangekomen; beslis met `mailer resolve` "
            "(als verzonden markeren of opnieuw versturen)."
        ),
    ),
    (
        re.compile(r"the message file is missing"),
        lambda _: "Het bestand van deze brief ontbreekt in de outbox.",
    ),
    (re.compile(r"^not approved$"), lambda _: "Nog niet goedgekeurd."),
]


def problem_in_dutch(problem: str, last_error: str | None = None) -> str:
    """A problem of `message_problems` in Dutch; a send error keeps the server's own words."""
    if last_error and problem == last_error:
        return f"Fout bij het verzenden: {problem}"
    for pattern, dutch in _PROBLEMS:
        match = pattern.search(problem)
        if match:
            return dutch(match)
    return problem


def note_in_dutch(note: str) -> str:
    return _NOTES.get(note, note)
