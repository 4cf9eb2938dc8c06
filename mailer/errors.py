"""The package's exceptions: one root, `MailerError`, and subclasses that carry what went wrong.

Every failure a user can cause becomes one of these, with a message that says what happened and
what to do; the CLI prints `str(error)` as one line and never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.i18n import _, ngettext, state_name

__all__ = [
    "ApprovalRefused",
    "ConfigError",
    "InputFileError",
    "InvalidRecords",
    "MailerError",
    "MessageNotFound",
    "OutboxError",
    "RowProblem",
    "SignInFailed",
    "SignInRequired",
    "TemplateProblem",
    "TransitionNotAllowed",
    "UnsafeMessage",
    "WorkspaceError",
]


class MailerError(Exception):
    """Root of every error this package raises on purpose."""


class WorkspaceError(MailerError):
    """The workspace folder is missing, incomplete or cannot be created."""


class ConfigError(MailerError):
    """The configuration (settings.toml, environment, .env) is invalid."""


class SignInRequired(MailerError):
    """No usable OAuth sign-in: never signed in, signed out, or the provider expired or revoked
    it. The message ends by telling the user to run `mailer login`."""


class SignInFailed(MailerError):
    """The provider's sign-in service refused or could not be reached for another reason."""


class InputFileError(MailerError):
    """An intake file cannot be read at all (encoding, format, unknown column)."""


@dataclass(frozen=True)
class RowProblem:
    """One problem in one row of an intake file, printed as `FILE:ROW: FIELD: problem`."""

    source: str
    row: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.source}:{self.row}: {self.field}: {self.problem}"


class InvalidRecords(MailerError):
    """Some rows of an intake file are invalid; nothing was queued unless the caller chose so."""

    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        rows = len({(p.source, p.row) for p in problems})
        super().__init__(
            ngettext(
                "{count} invalid row; correct it and queue the file again",
                "{count} invalid rows; correct them and queue the file again",
                rows,
            ).format(count=rows)
        )


class TemplateProblem(MailerError):
    """A template cannot be rendered: syntax error, undefined variable or leftover placeholder."""

    def __init__(self, template: str, line: int | None, problem: str) -> None:
        self.template = template
        self.line = line
        self.problem = problem
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {problem}")


class UnsafeMessage(MailerError):
    """A built message does not parse back to exactly the headers it was given."""


class OutboxError(MailerError):
    """An outbox operation cannot be carried out."""


class MessageNotFound(OutboxError):
    """No message, or more than one, matches the ID the user typed."""


class ApprovalRefused(OutboxError):
    """A review rule refuses this approval; `rule` names which, so a page can say it in its own
    language: `four_eyes`, `stale` (changed since it was shown), `already_approved` (then
    `approved_by` is set) or `unsigned_template`."""

    def __init__(
        self, message_id: str, rule: str, text: str, approved_by: str | None = None
    ) -> None:
        self.message_id = message_id
        self.rule = rule
        self.approved_by = approved_by
        super().__init__(f"{message_id}: {text}")


class TransitionNotAllowed(OutboxError):
    """A message cannot move from its current state to the one asked for."""

    def __init__(self, message_id: str, current: str, wanted: str, hint: str = "") -> None:
        self.message_id = message_id
        self.current = current
        self.wanted = wanted
        text = _("{id}: cannot go from {current} to {wanted}").format(
            id=message_id, current=state_name(current), wanted=state_name(wanted)
        )
        super().__init__(f"{text}; {hint}" if hint else text)
