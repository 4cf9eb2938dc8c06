"""intake-mailer: invitations to the intake meeting at a childcare centre, reviewed before sending.

The pipeline, one module per stage: `records` and `intake_files` (validated intake records),
`rendering` and `letter_data` (the letter), `message` and `compose` (the e-mail bytes), `outbox`
(states and storage), `review` (approve and reject), and `cli` on top.
"""

from mailer.compose import ComposedMessage, Composer
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
from mailer.intake_files import read_intake_file
from mailer.outbox import Outbox, State, StoredMessage
from mailer.queueing import QueueReport, queue_file
from mailer.records import IntakeRecord
from mailer.rendering import LetterRenderer, RenderedLetter
from mailer.review import ReviewPolicy, approve, reject
from mailer.workspace import Workspace, find_workspace, init_workspace

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
