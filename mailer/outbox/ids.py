"""Message IDs: short, typed and read aloud by people, so without look-alike characters."""

from __future__ import annotations

import secrets

from mailer.errors import MessageNotFound
from mailer.i18n import _

__all__ = ["ID_LENGTH", "MIN_PREFIX", "checked_id", "is_id", "random_id"]

ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: IDs are read aloud and typed
ID_LENGTH = 8
_ID_CHARACTERS = frozenset(ID_ALPHABET)
MIN_PREFIX = 3


def random_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def is_id(text: str, exact: bool = True) -> bool:
    length_ok = len(text) == ID_LENGTH if exact else 0 < len(text) <= ID_LENGTH
    return length_ok and _ID_CHARACTERS.issuperset(text)


def checked_id(message_id: str) -> str:
    """The ID, refused unless it is one (IDs may come from a web form)."""
    if not is_id(message_id):
        raise MessageNotFound(
            _("{typed!r} is not a message ID; `mailer list` shows them").format(typed=message_id)
        )
    return message_id
