"""The outbox: every message as the exact bytes that will be sent, with its state and history.

Layout of `outbox/`:
- `messages/ID.eml`: the message, byte for byte as it will go out (a mail client opens it);
- `messages/ID.json`: its metadata (`StoredMessage`): record, state, approval, attempts, history;
- `messages/.ID.json.swap`: the version of the metadata before the last change (see
  `durable.durable_swap_many`);
- `keys/KEY`: which message holds a record, so that queueing a file twice makes no second message;
- `journal.jsonl`: one line per state change (see `journal`);
- `locks/ID.lock`: held while that message's state changes, so that concurrent processes
  (several senders) never both take the same message; `.lock` guards adding messages and keys.

Every state change goes through `Outbox.transition`, which checks `ALLOWED` and writes durably.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mailer.clock import now_in_amsterdam
from mailer.durable import durable_swap_many, durable_write, private_directory
from mailer.errors import MessageNotFound, OutboxError, TransitionNotAllowed
from mailer.journal import JournalEntry, append_entries

__all__ = [
    "ALLOWED",
    "Approval",
    "Attempt",
    "Claim",
    "DamagedMessage",
    "Delivery",
    "HistoryEntry",
    "Outbox",
    "RecordAlreadyQueued",
    "Rejection",
    "State",
    "StoredMessage",
    "TransitionRequest",
    "sha256_hex",
]

ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: IDs are read aloud and typed
ID_LENGTH = 8
_ID_CHARACTERS = frozenset(ID_ALPHABET)
MIN_PREFIX = 3


class State(StrEnum):
    """Where a message is on its way to the parents."""

    PENDING = "pending"  # waiting for a person to review it
    APPROVED = "approved"  # a named person approved these exact bytes
    REJECTED = "rejected"  # a named person refused it, with a reason
    SENDING = "sending"  # claimed by one sender process
    SENT = "sent"  # the server accepted it
    FAILED = "failed"  # refused for good, or too many temporary failures
    UNKNOWN = "unknown"  # lost during or after DATA: a person decides (`mailer resolve`)


ALLOWED: dict[State, frozenset[State]] = {
    # Re-rendering or replacing a pending message keeps it pending.
    State.PENDING: frozenset({State.PENDING, State.APPROVED, State.REJECTED}),
    # An approval is withdrawn (back to pending) when the message is rendered again.
    State.APPROVED: frozenset({State.PENDING, State.APPROVED, State.REJECTED, State.SENDING}),
    # A rejected message comes back when its record is queued again with changes.
    State.REJECTED: frozenset({State.PENDING}),
    # A temporary failure leaves the message approved, for a later `send` to try again.
    State.SENDING: frozenset({State.SENT, State.APPROVED, State.FAILED, State.UNKNOWN}),
    State.SENT: frozenset(),
    # `mailer retry` (back to review) or `mailer reject`; a changed re-queue also makes it pending.
    State.FAILED: frozenset({State.PENDING, State.REJECTED}),
    # `mailer resolve --sent` or `--resend`: a person's decision.
    State.UNKNOWN: frozenset({State.SENT, State.APPROVED}),
}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Approval(_Frozen):
    by: str
    at: datetime
    sha256: str  # the exact bytes that were approved
    template_override: bool = False  # approved although the template version had no sign-off


class Rejection(_Frozen):
    by: str
    at: datetime
    reason: str


class Attempt(_Frozen):
    at: datetime
    outcome: str  # sent, deferred, failed, unknown
    reply: str = ""


class Delivery(_Frozen):
    at: datetime
    reply: str
    refused: dict[str, str] = Field(default_factory=dict)  # address -> server reply


class Claim(_Frozen):
    """Which process took the message for sending.

    `run` names the sender's run ledger and `boot_id` the boot of the computer it ran on: with
    both, a next sender can tell from the ledger whether a dead sender had begun handing the
    message over (see `send_ledger`); without them a dead sender's message becomes `unknown`.
    """

    pid: int
    host: str
    at: datetime
    run: str | None = None
    boot_id: str | None = None


class HistoryEntry(_Frozen):
    at: datetime
    from_state: State | None
    to_state: State
    by: str
    note: str = ""


class StoredMessage(_Frozen):
    """The metadata of one outbox message; the bytes live beside it in `ID.eml`."""

    id: str
    state: State
    kind: Literal["invitation", "update", "cancellation"] = "invitation"
    message_id: str
    subject: str
    to: list[str]
    child_name: str
    meeting_at: datetime
    language: str = "nl"
    record: dict[str, Any]
    record_key: str
    record_fingerprint: str
    template_version: str
    sha256: str
    created_at: datetime
    queued_by: str
    calendar_uid: str | None = None
    calendar_sequence: int = 0
    approval: Approval | None = None
    rejection: Rejection | None = None
    claim: Claim | None = None
    delivery: Delivery | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    purged: bool = False
    history: list[HistoryEntry] = Field(default_factory=list)


class DamagedMessage(OutboxError):
    """A metadata file of the outbox cannot be read (changed by hand, or a disk fault)."""


class RecordAlreadyQueued(OutboxError):
    """The record already has a message in the outbox."""

    def __init__(self, existing_id: str) -> None:
        self.existing_id = existing_id
        super().__init__(f"already in the outbox as {existing_id}")


class Outbox:
    """The outbox folder of one workspace."""

    def __init__(self, directory: Path) -> None:
        self.directory = private_directory(directory)
        self.messages_dir = private_directory(directory / "messages")
        self.keys_dir = private_directory(directory / "keys")
        self.locks_dir = private_directory(directory / "locks")
        self.journal_path = directory / "journal.jsonl"
        self._lock_path = directory / ".lock"
        # The same folders as plain strings: a send run builds thousands of paths per second,
        # and joining strings costs a fraction of building `Path` objects.
        self._messages = os.fspath(self.messages_dir)
        self._locks = os.fspath(self.locks_dir)
        # The metadata this object last wrote, per message: the bytes and the message they came
        # from. A state change reads the file again under the lock; when it still holds exactly
        # these bytes, parsing them again would only give this message back. A send run changes
        # each message twice (claim, outcome), so this spares a parse per message.
        self._written: dict[str, tuple[bytes, StoredMessage]] = {}
        self._written_lock = threading.Lock()  # a send run's writer changes from two threads

    # -- locking -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, message_id: str | None = None) -> Iterator[None]:
        """Hold the lock of one message, or (without an ID) the outbox-wide lock.

        A state change holds its message's lock, so changes of different messages (several
        senders, several connections) run side by side and their fsyncs share the file system's
        journal commits; adding a message holds the outbox-wide lock, which guards the keys.
        The kernel releases an flock when its process dies, so a killed sender never leaves
        anything locked.
        """
        if message_id is None:
            path: str | Path = self._lock_path
        else:
            path = os.path.join(self._locks, f"{_checked(message_id)}.lock")  # noqa: PTH118
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    @contextlib.contextmanager
    def locked_many(self, message_ids: Sequence[str]) -> Iterator[None]:
        """Hold the locks of several messages, taken in ID order: two processes that each lock
        a batch can then never wait for each other in a circle."""
        with contextlib.ExitStack() as stack:
            for message_id in sorted(set(message_ids)):
                stack.enter_context(self.locked(message_id))
            yield

    # -- reading -------------------------------------------------------------------------------

    def _message_file(self, message_id: str, suffix: str) -> str:
        """`ID.eml` or `ID.json` as a string path (see `__init__`); the ID is checked."""
        return os.path.join(self._messages, f"{_checked(message_id)}{suffix}")  # noqa: PTH118

    def eml_path(self, message_id: str) -> Path:
        return Path(self._message_file(message_id, ".eml"))

    def _meta_path(self, message_id: str) -> Path:
        return Path(self._message_file(message_id, ".json"))

    def load(self, message_id: str) -> StoredMessage:
        return self._parsed(message_id, self._read_metadata(message_id))

    def _read_metadata(self, message_id: str) -> bytes:
        try:
            return _read(self._message_file(message_id, ".json"))
        except FileNotFoundError:
            raise MessageNotFound(f"{message_id}: no such message in the outbox") from None

    def _load_current(self, message_id: str) -> StoredMessage:
        """`load`, for a change under the message's lock (see `_written`)."""
        raw = self._read_metadata(message_id)
        with self._written_lock:
            written = self._written.get(message_id)
        if written is not None and written[0] == raw:
            return written[1]
        return self._parsed(message_id, raw)

    def _remember_written(self, written: dict[str, tuple[bytes, StoredMessage]]) -> None:
        with self._written_lock:
            for message_id, entry in written.items():
                self._written.pop(message_id, None)  # to the end: the oldest go first
                self._written[message_id] = entry
            while len(self._written) > _REMEMBERED:
                del self._written[next(iter(self._written))]

    @staticmethod
    def _parsed(message_id: str, raw: bytes) -> StoredMessage:
        try:
            return StoredMessage.model_validate_json(raw)
        except ValueError:
            # Never echo the content: it holds children's data.
            raise DamagedMessage(
                f"{message_id}.json: this outbox file is damaged and cannot be read; restore it "
                "from a backup, or move it out of the outbox folder"
            ) from None

    def read_bytes(self, message_id: str) -> bytes:
        try:
            return _read(self._message_file(message_id, ".eml"))
        except FileNotFoundError:
            raise MessageNotFound(f"{message_id}: the message file is missing") from None

    def ids(self) -> list[str]:
        return sorted(
            entry.name[: -len(".json")]
            for entry in os.scandir(self.messages_dir)
            if entry.name.endswith(".json") and _is_id(entry.name[: -len(".json")])
        )

    def messages(
        self, state: State | None = None, damaged: list[str] | None = None
    ) -> Iterator[StoredMessage]:
        """Every readable message (or those in `state`), in ID order.

        A damaged metadata file is passed over (it cannot be sent or shown); pass a list as
        `damaged` to be told about it, one line per file.
        """
        for message_id in self.ids():
            try:
                stored = self.load(message_id)
            except DamagedMessage as error:
                if damaged is not None:
                    damaged.append(str(error))
                continue
            except MessageNotFound:  # removed between listing and reading
                continue
            if state is None or stored.state == state:
                yield stored

    def resolve(self, typed: str) -> str:
        """The full ID for what a user typed: the ID itself or a unique prefix of it."""
        typed = typed.strip().lower()
        if not _is_id(typed, exact=False):
            raise MessageNotFound(f"{typed}: no message with this ID; `mailer list` shows them")
        if len(typed) == ID_LENGTH and self._meta_path(typed).is_file():
            return typed
        if len(typed) < MIN_PREFIX:
            raise MessageNotFound(f"{typed!r}: type at least {MIN_PREFIX} characters of the ID")
        matches = [message_id for message_id in self.ids() if message_id.startswith(typed)]
        if not matches:
            raise MessageNotFound(f"{typed}: no message with this ID; `mailer list` shows them")
        if len(matches) > 1:
            raise MessageNotFound(
                f"{typed}: matches {', '.join(matches[:5])}; type more characters of the ID"
            )
        return matches[0]

    def approval_problem(self, stored: StoredMessage) -> str | None:
        """Why an approved message may not be sent as it is, or None when it may."""
        if stored.approval is None:
            return "not approved"
        current = sha256_hex(self.read_bytes(stored.id))
        if current != stored.approval.sha256:
            return "the message changed after it was approved; review and approve it again"
        return None

    # -- keys (one message per record) ----------------------------------------------------------

    def message_for_key(self, record_key: str) -> str | None:
        """The message holding this record, if any.

        A key whose message file does not exist is left from a crash during `add` and counts as
        no message, so queueing again completes the work instead of skipping the record.
        """
        try:
            message_id = (self.keys_dir / record_key).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return message_id if message_id and self._meta_path(message_id).is_file() else None

    def _point_key(self, record_key: str, message_id: str) -> None:
        durable_write(self.keys_dir / record_key, message_id.encode("utf-8"))

    # -- writing -------------------------------------------------------------------------------

    def _new_id(self) -> str:
        while True:
            candidate = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
            if not self._meta_path(candidate).exists():
                return candidate

    def _save(self, stored: StoredMessage) -> None:
        durable_swap_many([(self._meta_path(stored.id), _serialised(stored))])

    def _journal(self, entries: Sequence[tuple[str, HistoryEntry, str]]) -> None:
        """Append (message ID, history entry, reply) lines to the journal in one durable write."""
        append_entries(
            self.journal_path,
            [
                JournalEntry(
                    at=entry.at,
                    message=message_id,
                    from_state=entry.from_state.value if entry.from_state else None,
                    to_state=entry.to_state.value,
                    by=entry.by,
                    note=entry.note,
                    reply=reply,
                )
                for message_id, entry, reply in entries
            ],
        )

    def add(self, draft: StoredMessage, data: bytes, by: str) -> StoredMessage:
        """Store a new pending message (bytes first, then metadata) and point its key at it.

        Raises RecordAlreadyQueued when another message already holds the same record.
        """
        with self.locked():
            existing = self.message_for_key(draft.record_key)
            if existing is not None:
                raise RecordAlreadyQueued(existing)
            message_id = self._new_id()
            entry = HistoryEntry(
                at=now_in_amsterdam(), from_state=None, to_state=State.PENDING, by=by, note="queued"
            )
            stored = draft.model_copy(
                update={
                    "id": message_id,
                    "state": State.PENDING,
                    "sha256": sha256_hex(data),
                    "history": [entry],
                }
            )
            # Order matters for a crash in between: the metadata file is what makes a message
            # exist, so it is written last; bytes or a key without it are ignored.
            durable_write(self.eml_path(message_id), data)
            self._point_key(stored.record_key, message_id)
            self._save(stored)
            self._journal([(message_id, entry, "")])
        return stored

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
        `change` returns further fields to update, computed from the current metadata under the
        lock (an OutboxError it raises refuses the change); `new_bytes` replaces the message
        file (re-render), updating its hash.
        """
        request = TransitionRequest(message_id, to_state, by, note, reply, only_from, change)
        if new_bytes is None:
            (result,) = self.transition_many([request])
        else:
            with self.locked(message_id):
                (result,) = self._transition_locked([request], new_bytes)
        if isinstance(result, OutboxError):
            raise result
        return result

    def transition_many(
        self, requests: Sequence[TransitionRequest]
    ) -> list[StoredMessage | OutboxError]:
        """Several state changes committed together: each one atomic and checked as
        `transition` does, all on disk when this returns, for the price of one fsync per
        message file plus one for the folder and one for the journal.

        A change that is not allowed does not stop the others: its place in the result holds
        the error instead of the updated message.
        """
        with self.locked_many([request.message_id for request in requests]):
            return self._transition_locked(requests)

    def _transition_locked(
        self, requests: Sequence[TransitionRequest], new_bytes: bytes | None = None
    ) -> list[StoredMessage | OutboxError]:
        results: list[StoredMessage | OutboxError] = []
        changed: dict[str, StoredMessage] = {}  # a second change of one message sees the first
        lines: list[tuple[str, HistoryEntry, str]] = []
        for request in requests:
            try:
                current = changed.get(request.message_id) or self._load_current(request.message_id)
                updated, entry = _changed(current, request)
            except OutboxError as error:
                results.append(error)
                continue
            if new_bytes is not None:
                durable_write(self.eml_path(updated.id), new_bytes)
                updated = updated.model_copy(update={"sha256": sha256_hex(new_bytes)})
            changed[updated.id] = updated
            lines.append((updated.id, entry, request.reply))
            results.append(updated)
        if changed:
            written = {message_id: (_serialised(m), m) for message_id, m in changed.items()}
            durable_swap_many(
                [
                    (self._message_file(message_id, ".json"), data)
                    for message_id, (data, _) in written.items()
                ]
            )
            self._remember_written(written)
            self._journal(lines)
        return results

    def replace_key(self, record_key: str, message_id: str) -> None:
        """Make `record_key` point at a newer message of the same record (an updated invitation)."""
        with self.locked():
            self._point_key(record_key, message_id)

    def update_fields(
        self, message_id: str, change: Callable[[StoredMessage], dict[str, Any]]
    ) -> StoredMessage:
        """Change metadata that is not a state (purging content), under the lock, durably."""
        with self.locked(message_id):
            current = self.load(message_id)
            updated = current.model_copy(update=change(current))
            self._save(updated)
        return updated


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


def _changed(
    stored: StoredMessage, request: TransitionRequest
) -> tuple[StoredMessage, HistoryEntry]:
    """The message as `request` leaves it, checked against `ALLOWED` (its lock held)."""
    current = stored.state
    if request.to_state not in ALLOWED[current] or (
        request.only_from is not None and current not in request.only_from
    ):
        raise TransitionNotAllowed(stored.id, current.value, request.to_state.value, _hint(current))
    entry = HistoryEntry(
        at=now_in_amsterdam(),
        from_state=current,
        to_state=request.to_state,
        by=request.by,
        note=request.note,
    )
    update: dict[str, Any] = request.change(stored) if request.change else {}
    update["state"] = request.to_state
    update["history"] = [*stored.history, entry]
    return stored.model_copy(update=update), entry


# Messages whose last written metadata `Outbox` keeps (see `_written`), a few megabytes at most:
# about as many as a send run has claimed and not yet recorded (up to two claim batches ahead,
# plus outcomes waiting and being committed: some 500 when the disk lags behind four
# connections). A message that falls out is only parsed again when its outcome is recorded.
_REMEMBERED = 512
_READ_CHUNK = 1 << 16  # more than a letter or its metadata: one read, then the end


def _read(path: str) -> bytes:
    """The whole file, read with the bare system calls: a send run reads three files per
    message, and `open()` adds a buffer object, a size query and a terminal check to each
    (about 8 against 5 microseconds for a letter, here)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks: list[bytes] = []
        while chunk := os.read(descriptor, _READ_CHUNK):
            chunks.append(chunk)
    finally:
        os.close(descriptor)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _serialised(stored: StoredMessage) -> bytes:
    return stored.model_dump_json(indent=1).encode("utf-8")


def _is_id(text: str, exact: bool = True) -> bool:
    length_ok = len(text) == ID_LENGTH if exact else 0 < len(text) <= ID_LENGTH
    return length_ok and _ID_CHARACTERS.issuperset(text)


def _checked(message_id: str) -> str:
    """The ID, refused unless it is one: IDs become file names, and may come from a web form."""
    if not _is_id(message_id):
        raise MessageNotFound(f"{message_id!r} is not a message ID; `mailer list` shows them")
    return message_id


def _hint(current: State) -> str:
    return {
        State.PENDING: "approve it first with `mailer approve ID --by NAME`",
        State.REJECTED: "it was rejected; queue its record again to make a new message",
        State.SENDING: "a sender is working on it right now",
        State.SENT: "it was already sent",
        State.FAILED: "it failed (`mailer show ID` tells why); `mailer retry ID --by NAME` "
        "puts it back for review, `mailer reject` ends it",
        State.UNKNOWN: "decide first with `mailer resolve ID --sent` or `--resend`",
        State.APPROVED: "",
    }[current]
