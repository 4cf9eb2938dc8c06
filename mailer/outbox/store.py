"""The outbox: every message as the exact bytes that will be sent, with its state and history.

The outbox lives in a database (see `database`; tables in `schema`). Every state change goes
through `Outbox.transition` or `Outbox.transition_many`, which check it against the state machine
(`states`) and write the new state and its journal line in one transaction: a reader never sees a
change without its journal line, nor half a message.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from mailer.clock import now_in_amsterdam
from mailer.config import Settings
from mailer.errors import MessageNotFound, OutboxError
from mailer.i18n import _
from mailer.outbox.database import database_url, describe, open_engine
from mailer.outbox.ids import ID_LENGTH, MIN_PREFIX, checked_id, is_id, random_id
from mailer.outbox.models import (
    Approval,
    Attempt,
    Claim,
    Delivery,
    HistoryEntry,
    JournalEntry,
    Rejection,
    StoredMessage,
    sha256_hex,
)
from mailer.outbox.rows import (
    DamagedMessage,
    history_entry,
    journal_entry,
    parsed_message,
    row_values,
    write_journal,
)
from mailer.outbox.schema import journal, messages, record_keys
from mailer.outbox.states import ALLOWED, State, check_transition
from mailer.workspace import Workspace

__all__ = [
    "ALLOWED",
    "Approval",
    "Attempt",
    "Claim",
    "DamagedMessage",
    "Delivery",
    "HistoryEntry",
    "JournalEntry",
    "Outbox",
    "RecordAlreadyQueued",
    "Rejection",
    "State",
    "StoredMessage",
    "TransitionRequest",
    "sha256_hex",
]

# Rows read per query when listing, and IDs per `IN (...)`: memory stays flat in the size of
# the outbox, and no query comes near a database's limit on parameters.
_PAGE = 500


class RecordAlreadyQueued(OutboxError):
    """The record already has a message in the outbox."""

    def __init__(self, existing_id: str) -> None:
        self.existing_id = existing_id
        super().__init__(f"already in the outbox as {existing_id}")


@dataclass(frozen=True)
class TransitionRequest:
    """One state change for `Outbox.transition_many` (the arguments of `Outbox.transition`)."""

    message_id: str
    to_state: State
    by: str
    note: str = ""
    reply: str = ""
    only_from: frozenset[State] | None = None
    change: Callable[[StoredMessage], dict[str, Any]] | None = None


class Outbox:
    """The outbox of one workspace: its own SQLite file in `directory`, or the shared database
    that `url` names."""

    def __init__(self, directory: Path, url: str = "") -> None:
        self.directory = directory
        self.url = database_url(directory, url)
        self.engine = open_engine(self.url)
        # The connection of an open `one_transaction` block, which every call inside it uses.
        self._pinned: ContextVar[Connection | None] = ContextVar("outbox_transaction", default=None)
        # The pooled connections close with the object (or with `close`), however it is used.
        self._finalizer = weakref.finalize(self, self.engine.dispose)

    @classmethod
    def of_workspace(cls, workspace: Workspace, settings: Settings) -> Outbox:
        """The outbox a workspace's commands use: the configured database, else its own file."""
        return cls(workspace.outbox_dir, settings.database_url.get_secret_value())

    def __repr__(self) -> str:
        return f"Outbox({describe(self.url)})"

    def close(self) -> None:
        self._finalizer()

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @contextmanager
    def one_transaction(self) -> Iterator[None]:
        """Make everything done on this outbox inside the block one transaction: committed
        when the block ends, or not at all (a file is queued whole or not at all). Each change
        inside it is a savepoint, so one that is refused leaves the others standing."""
        if self._pinned.get() is not None:
            yield
            return
        with self._writing() as connection:
            token = self._pinned.set(connection)
            try:
                yield
            finally:
                self._pinned.reset(token)

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A transaction that will write: committed when the block ends, rolled back on error.
        On SQLite it holds the write lock from its start (see `database._begin`)."""
        pinned = self._pinned.get()
        if pinned is not None:
            with pinned.begin_nested():
                yield pinned
            return
        with (
            self.engine.connect().execution_options(outbox_writes=True) as connection,
            connection.begin(),
        ):
            yield connection

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        pinned = self._pinned.get()
        if pinned is not None:  # sees the block's own changes
            yield pinned
            return
        with self.engine.connect() as connection, connection.begin():
            yield connection

    # -- reading -------------------------------------------------------------------------------

    def load(self, message_id: str, *, with_history: bool = True) -> StoredMessage:
        """The message, with its whole history unless told otherwise."""
        with self._reading() as connection:
            row = connection.execute(
                select(messages.c.document).where(messages.c.id == checked_id(message_id))
            ).first()
            if row is None:
                raise MessageNotFound(
                    _("{id}: no such message in the outbox").format(id=message_id)
                )
            stored = parsed_message(message_id, row.document)
            if not with_history:
                return stored
            history = [history_entry(entry) for entry in self._journal_rows(connection, message_id)]
        return stored.model_copy(update={"history": history})

    def read_bytes(self, message_id: str) -> bytes:
        """The message exactly as it will be sent."""
        with self._reading() as connection:
            content = connection.execute(
                select(messages.c.content).where(messages.c.id == checked_id(message_id))
            ).scalar()
        if content is None:
            raise MessageNotFound(
                _("{id}: the message is not in the outbox (or purged)").format(id=message_id)
            )
        return bytes(content)

    def with_contents(self, message_ids: Sequence[str]) -> dict[str, tuple[StoredMessage, bytes]]:
        """These messages (without history) with their bytes, read a page at a time; a message
        that does not exist or was purged is left out."""
        wanted = sorted({checked_id(message_id) for message_id in message_ids})
        found: dict[str, tuple[StoredMessage, bytes]] = {}
        with self._reading() as connection:
            for start in range(0, len(wanted), _PAGE):
                query = select(messages.c.id, messages.c.document, messages.c.content).where(
                    messages.c.id.in_(wanted[start : start + _PAGE]),
                    messages.c.content.is_not(None),
                )
                for row in connection.execute(query):
                    found[row.id] = (parsed_message(row.id, row.document), bytes(row.content))
        return found

    def ids(self) -> list[str]:
        with self._reading() as connection:
            return list(connection.execute(select(messages.c.id).order_by(messages.c.id)).scalars())

    def messages(
        self, state: State | None = None, damaged: list[str] | None = None
    ) -> Iterator[StoredMessage]:
        """Every readable message (or those in `state`) in queueing order, without history.

        Read a page at a time, so memory stays flat however large the outbox. A message whose
        metadata cannot be read is passed over (it cannot be sent or shown); pass a list as
        `damaged` to be told about it, one line per message.
        """
        after: tuple[datetime, str] | None = None
        while True:
            query = select(messages.c.id, messages.c.created_at, messages.c.document)
            if state is not None:
                query = query.where(messages.c.state == state.value)
            if after is not None:  # a row-value comparison, which both engines use the index for
                query = query.where(tuple_(messages.c.created_at, messages.c.id) > tuple_(*after))
            query = query.order_by(messages.c.created_at, messages.c.id).limit(_PAGE)
            with self._reading() as connection:
                rows = connection.execute(query).all()
            for row in rows:
                try:
                    yield parsed_message(row.id, row.document)
                except DamagedMessage as error:
                    if damaged is not None:
                        damaged.append(str(error))
            if len(rows) < _PAGE:
                return
            after = (rows[-1].created_at, rows[-1].id)

    def resolve(self, typed: str) -> str:
        """The full ID for what a user typed: the ID itself or a unique prefix of it."""
        typed = typed.strip().lower()
        if not is_id(typed, exact=False):
            raise MessageNotFound(
                _("{typed}: no message with this ID; `mailer list` shows them").format(typed=typed)
            )
        if len(typed) < ID_LENGTH and len(typed) < MIN_PREFIX:
            raise MessageNotFound(
                _("{typed!r}: type at least {count} characters of the ID").format(
                    typed=typed, count=MIN_PREFIX
                )
            )
        # IDs use only lower-case letters and digits, all before "~": a range on the key.
        query = (
            select(messages.c.id)
            .where(messages.c.id >= typed, messages.c.id < typed + "~")
            .order_by(messages.c.id)
            .limit(6)
        )
        with self._reading() as connection:
            matches = list(connection.execute(query).scalars())
        if typed in matches:
            return typed
        if not matches:
            raise MessageNotFound(
                _("{typed}: no message with this ID; `mailer list` shows them").format(typed=typed)
            )
        if len(matches) > 1:
            raise MessageNotFound(
                _("{typed}: matches {ids}; type more characters of the ID").format(
                    typed=typed, ids=", ".join(matches[:5])
                )
            )
        return str(matches[0])

    def message_for_key(self, record_key: str) -> str | None:
        """The message holding this record, if any."""
        with self._reading() as connection:
            found = connection.execute(
                select(record_keys.c.message_id).where(record_keys.c.record_key == record_key)
            ).scalar()
        return None if found is None else str(found)

    def journal(self, message_id: str | None = None) -> list[JournalEntry]:
        """The audit journal in order, or one message's part of it."""
        with self._reading() as connection:
            if message_id is not None:
                rows = self._journal_rows(connection, message_id)
            else:
                rows = connection.execute(select(journal).order_by(journal.c.seq)).all()
        return [journal_entry(row) for row in rows]

    def histories(self, message_ids: Sequence[str]) -> dict[str, list[HistoryEntry]]:
        """The history of each of these messages, read a page of IDs per query."""
        wanted = sorted({checked_id(message_id) for message_id in message_ids})
        found: dict[str, list[HistoryEntry]] = {message_id: [] for message_id in wanted}
        with self._reading() as connection:
            for start in range(0, len(wanted), _PAGE):
                query = (
                    select(journal)
                    .where(journal.c.message_id.in_(wanted[start : start + _PAGE]))
                    .order_by(journal.c.message_id, journal.c.seq)
                )
                for row in connection.execute(query):
                    found[row.message_id].append(history_entry(row))
        return found

    @staticmethod
    def _journal_rows(connection: Connection, message_id: str) -> Sequence[Row[Any]]:
        query = select(journal).where(journal.c.message_id == message_id).order_by(journal.c.seq)
        return connection.execute(query).all()

    # -- writing -------------------------------------------------------------------------------

    def add(self, draft: StoredMessage, data: bytes, by: str) -> StoredMessage:
        """Store a new pending message and point its record's key at it.

        Raises RecordAlreadyQueued when another message already holds the same record.
        """
        try:
            with self._writing() as connection:
                existing = connection.execute(
                    select(record_keys.c.message_id).where(
                        record_keys.c.record_key == draft.record_key
                    )
                ).scalar()
                if existing is not None:
                    raise RecordAlreadyQueued(str(existing))
                now = now_in_amsterdam()
                entry = HistoryEntry(
                    at=now, from_state=None, to_state=State.PENDING, by=by, note="queued"
                )
                stored = draft.model_copy(
                    update={
                        "id": self._new_id(connection),
                        "state": State.PENDING,
                        "sha256": sha256_hex(data),
                        "history": [],
                    }
                )
                row = {**row_values(stored, now), "content": data}
                connection.execute(insert(messages).values(row))
                connection.execute(
                    insert(record_keys).values(record_key=stored.record_key, message_id=stored.id)
                )
                write_journal(connection, [(stored.id, entry, "")])
        except IntegrityError:
            # Another process queued the same record a moment earlier (PostgreSQL lets both
            # transactions run; the key's uniqueness stops the second).
            existing_id = self.message_for_key(draft.record_key)
            raise RecordAlreadyQueued(existing_id or "another message") from None
        return stored.model_copy(update={"history": [entry]})

    @staticmethod
    def _new_id(connection: Connection) -> str:
        while True:
            candidate = random_id()
            taken = connection.execute(select(messages.c.id).where(messages.c.id == candidate))
            if taken.first() is None:
                return candidate

    def transition(
        self,
        message_id: str,
        to_state: State,
        *,
        by: str,
        note: str = "",
        reply: str = "",
        only_from: frozenset[State] | None = None,
        change: Callable[[StoredMessage], dict[str, Any]] | None = None,
        new_bytes: bytes | None = None,
    ) -> StoredMessage:
        """Move one message to `to_state`: the one place where a state changes.

        `only_from` narrows the states this caller accepts (a sender claims only `approved`);
        `change` returns further fields to update, computed from the current metadata inside
        the transaction (an OutboxError it raises refuses the change); `new_bytes` replaces the
        message (re-render), updating its hash.
        """
        request = TransitionRequest(message_id, to_state, by, note, reply, only_from, change)
        (result,) = self.transition_many([request], new_bytes=new_bytes)
        if isinstance(result, OutboxError):
            raise result
        return result

    def transition_many(
        self, requests: Sequence[TransitionRequest], *, new_bytes: bytes | None = None
    ) -> list[StoredMessage | OutboxError]:
        """Several state changes committed together in one transaction, each checked as
        `transition` does. A change that is not allowed does not stop the others: its place in
        the result holds the error instead of the updated message."""
        results: list[StoredMessage | OutboxError] = []
        with self._writing() as connection:
            current = self._locked_messages(connection, [r.message_id for r in requests])
            changed: dict[str, StoredMessage] = {}
            lines: list[tuple[str, HistoryEntry, str]] = []
            for request in requests:
                try:
                    found = changed.get(request.message_id) or current.get(request.message_id)
                    if found is None:
                        raise MessageNotFound(
                            _("{id}: no such message in the outbox").format(id=request.message_id)
                        )
                    updated, entry = _changed(found, request)
                except OutboxError as error:
                    results.append(error)
                    continue
                if new_bytes is not None:
                    updated = updated.model_copy(update={"sha256": sha256_hex(new_bytes)})
                changed[updated.id] = updated
                lines.append((updated.id, entry, request.reply))
                results.append(updated.model_copy(update={"history": [entry]}))
            now = now_in_amsterdam()
            rows = [{**row_values(stored, now), "key": stored.id} for stored in changed.values()]
            if new_bytes is not None:
                for row in rows:
                    row["content"] = new_bytes
            if rows:
                connection.execute(update(messages).where(messages.c.id == bindparam("key")), rows)
            write_journal(connection, lines)
        return results

    def _locked_messages(
        self, connection: Connection, message_ids: Sequence[str]
    ) -> dict[str, StoredMessage]:
        """The current metadata of these messages, locked for this transaction (PostgreSQL:
        row locks taken in ID order, so two batches never wait for each other in a circle;
        SQLite: the whole database is already locked for writing)."""
        wanted = sorted({checked_id(message_id) for message_id in message_ids})
        found: dict[str, StoredMessage] = {}
        for start in range(0, len(wanted), _PAGE):
            query = (
                select(messages.c.id, messages.c.document)
                .where(messages.c.id.in_(wanted[start : start + _PAGE]))
                .order_by(messages.c.id)
                .with_for_update()
            )
            for row in connection.execute(query):
                found[row.id] = parsed_message(row.id, row.document)
        return found

    def replace_key(self, record_key: str, message_id: str) -> None:
        """Make `record_key` point at a newer message of the same record (an updated invitation)."""
        with self._writing() as connection:
            connection.execute(
                update(record_keys)
                .where(record_keys.c.record_key == record_key)
                .values(message_id=message_id)
            )

    def purge_content(
        self, message_id: str, change: Callable[[StoredMessage], dict[str, Any]], by: str, note: str
    ) -> StoredMessage:
        """Remove the message's bytes and blank its metadata with `change` (keeping its state),
        with a journal line saying so, in one transaction."""
        with self._writing() as connection:
            current = self._locked_messages(connection, [message_id]).get(message_id)
            if current is None:
                raise MessageNotFound(
                    _("{id}: no such message in the outbox").format(id=message_id)
                )
            updated = current.model_copy(update=change(current))
            values = row_values(updated, now_in_amsterdam())
            values["content"] = None
            # The time the message was finished stays: purging is no change of the message.
            del values["changed_at"]
            connection.execute(update(messages).where(messages.c.id == message_id), values)
            entry = HistoryEntry(
                at=now_in_amsterdam(),
                from_state=current.state,
                to_state=current.state,
                by=by,
                note=note,
            )
            write_journal(connection, [(message_id, entry, "")])
        return updated

    def erase_old_versions(self) -> None:
        """Make sure no earlier version of a changed message lingers in the database's files:
        SQLite keeps them in its write-ahead log until a checkpoint, which this forces and
        truncates. (PostgreSQL's autovacuum reclaims them in its own time.)"""
        if self.is_sqlite:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def finished_before(self, states: frozenset[State], before: datetime) -> list[str]:
        """IDs of messages in `states` whose last change was before `before`."""
        query = (
            select(messages.c.id)
            .where(
                messages.c.state.in_([state.value for state in states]),
                messages.c.changed_at < before,
            )
            .order_by(messages.c.id)
        )
        with self._reading() as connection:
            return list(connection.execute(query).scalars())


def _changed(
    stored: StoredMessage, request: TransitionRequest
) -> tuple[StoredMessage, HistoryEntry]:
    """The message as `request` leaves it, checked against the state machine."""
    check_transition(stored.id, stored.state, request.to_state, request.only_from)
    entry = HistoryEntry(
        at=now_in_amsterdam(),
        from_state=stored.state,
        to_state=request.to_state,
        by=request.by,
        note=request.note,
    )
    update_fields: dict[str, Any] = request.change(stored) if request.change else {}
    update_fields["state"] = request.to_state
    return stored.model_copy(update=update_fields), entry
