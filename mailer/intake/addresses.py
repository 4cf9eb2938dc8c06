"""One parent's e-mail address, checked so that every address accepted here can be sent.

The rule: a cell holds exactly one bare address (no name, no angle brackets, no second address).
A domain written with letters outside ASCII (`bücher.example`) is kept in its ASCII form
(`xn--bcher-kva.example`, IDNA), which is what goes into the To header and the SMTP envelope, so
any server delivers it. A domain label that mixes scripts (a Cyrillic `а` among Latin letters) is
refused: it imitates another domain. A local part (before the @) outside ASCII is refused, because
it needs a server that offers SMTPUTF8, and which server sends is not known when a file is queued.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from mailer.i18n import _

__all__ = ["read_address"]

# Scripts that are written together in one name (Japanese mixes kanji and kana).
_SCRIPT_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "CJK": "CJK", "HANGUL": "CJK"}


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    first_word = unicodedata.name(char, "UNKNOWN").split()[0]
    return _SCRIPT_FAMILIES.get(first_word, first_word)


def _mixes_scripts(label: str) -> bool:
    return len({script for char in label if (script := _script(char))}) > 1


def read_address(value: str) -> str:
    """The address to send to, in ASCII; raise ValueError with a sentence for staff."""
    text = value.strip()
    if any(char in text for char in "<>,;\"'") or len(text.split()) > 1:
        raise ValueError(
            _(
                "'{text}' is not one bare address; write only the address, e.g. naam@voorbeeld.nl"
            ).format(text=text[:80])
        )
    if not text.isascii() and not text.partition("@")[0].isascii():
        raise ValueError(
            _(
                "'{text}' has letters outside ASCII before the @; not every mail server accepts "
                "that, so ask the parent for another address"
            ).format(text=text[:80])
        )
    try:
        checked = validate_email(
            text,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError:
        raise ValueError(
            _("'{text}' is not an e-mail address; write it as naam@voorbeeld.nl").format(
                text=text[:80]
            )
        ) from None
    if any(_mixes_scripts(label) for label in checked.domain.split(".")):
        raise ValueError(
            _(
                "'{text}' mixes alphabets in its domain, as fake look-alike addresses do; "
                "check the address with the parent"
            ).format(text=text[:80])
        )
    return checked.ascii_email or checked.normalized
