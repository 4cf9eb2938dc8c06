"""intake-mailer: invitations to the intake meeting at a childcare centre, reviewed before sending.

The pipeline, one module per stage: `records` and `intake_files` (validated intake records),
`rendering` and `letter_data` (the letter), `message` and `compose` (the e-mail bytes), `outbox`
(states and storage), `review` (approve and reject), and `cli` on top.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as type checkers and editors see them
    from mailer.config import Settings, load_settings
    from mailer.errors import (
        ConfigError,
        InputFileError,
        InvalidRecords,
        MailerError,
        MessageNotFound,
        OutboxError,
        RowProblem,
        TemplateProblem,
        TransitionNotAllowed,
        UnsafeMessage,
        WorkspaceError,
    )
    from mailer.intake.files import read_intake_file
    from mailer.intake.records import IntakeRecord
    from mailer.letters.compose import ComposedMessage, Composer
    from mailer.letters.rendering import LetterRenderer, RenderedLetter
    from mailer.outbox.queueing import QueueReport, queue_file
    from mailer.outbox.store import Outbox, State, StoredMessage
    from mailer.review.decisions import ReviewPolicy, approve, reject
    from mailer.workspace import Workspace, find_workspace, init_workspace

# Where each public name lives. They are imported on first use (PEP 562), so that a command
# loads only what it needs: `mailer send` does not load the letter templates' libraries.
_PUBLIC: dict[str, str] = {
    "ComposedMessage": "mailer.letters.compose",
    "Composer": "mailer.letters.compose",
    "ConfigError": "mailer.errors",
    "InputFileError": "mailer.errors",
    "IntakeRecord": "mailer.intake.records",
    "InvalidRecords": "mailer.errors",
    "LetterRenderer": "mailer.letters.rendering",
    "MailerError": "mailer.errors",
    "MessageNotFound": "mailer.errors",
    "Outbox": "mailer.outbox.store",
    "OutboxError": "mailer.errors",
    "QueueReport": "mailer.outbox.queueing",
    "RenderedLetter": "mailer.letters.rendering",
    "ReviewPolicy": "mailer.review.decisions",
    "RowProblem": "mailer.errors",
    "Settings": "mailer.config",
    "State": "mailer.outbox.store",
    "StoredMessage": "mailer.outbox.store",
    "TemplateProblem": "mailer.errors",
    "TransitionNotAllowed": "mailer.errors",
    "UnsafeMessage": "mailer.errors",
    "Workspace": "mailer.workspace",
    "WorkspaceError": "mailer.errors",
    "approve": "mailer.review.decisions",
    "find_workspace": "mailer.workspace",
    "init_workspace": "mailer.workspace",
    "load_settings": "mailer.config",
    "queue_file": "mailer.outbox.queueing",
    "read_intake_file": "mailer.intake.files",
    "reject": "mailer.review.decisions",
}

__all__ = [
    "ComposedMessage",
    "Composer",
    "ConfigError",
    "InputFileError",
    "IntakeRecord",
    "InvalidRecords",
    "LetterRenderer",
    "MailerError",
    "MessageNotFound",
    "Outbox",
    "OutboxError",
    "QueueReport",
    "RenderedLetter",
    "ReviewPolicy",
    "RowProblem",
    "Settings",
    "State",
    "StoredMessage",
    "TemplateProblem",
    "TransitionNotAllowed",
    "UnsafeMessage",
    "Workspace",
    "WorkspaceError",
    "approve",
    "find_workspace",
    "init_workspace",
    "load_settings",
    "queue_file",
    "read_intake_file",
    "reject",
]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
