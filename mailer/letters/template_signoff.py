"""The team's sign-off of a template version: who approved which exact letter, and when.

Sign-offs live in the workspace's `config/template-signoffs.json`, written durably; a message may
only be approved without an override when the template version it was rendered from is signed off.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from mailer.clock import now_in_amsterdam
from mailer.durable import durable_write
from mailer.errors import ConfigError, MailerError
from mailer.i18n import _
from mailer.letters.template_files import TemplateFiles
from mailer.text_safety import has_control_characters
from mailer.workspace import Workspace

__all__ = [
    "SIGNOFF_FILE",
    "SignOff",
    "read_signoffs",
    "sign_off",
    "signed_versions",
    "template_version",
]

SIGNOFF_FILE = "template-signoffs.json"


def template_version(templates_dir: Path) -> str:
    """A short hash over the letter's files: a sign-off names the exact version it approved.

    Every file the template loader can read counts, not only `*.j2`: a template can include any
    of them, and a change to an included file is a change to the letter. The loader reads
    nothing else (`mailer.letters.template_files`): not the folder's README, not hidden files.
    """
    return TemplateFiles.read(templates_dir).version


class SignOff(BaseModel):
    """One sign-off: the template version (a hash of the template files), by whom, when."""

    model_config = ConfigDict(frozen=True)

    version: str
    by: str
    at: datetime


def read_signoffs(workspace: Workspace) -> list[SignOff]:
    """Every sign-off of this workspace, oldest first; none when the file does not exist yet."""
    path = workspace.config_dir / SIGNOFF_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        return [SignOff.model_validate(item) for item in json.loads(raw)]
    except (ValueError, TypeError, ValidationError):
        raise ConfigError(
            _(
                "{file}: the template sign-off file is damaged; restore it from a backup, or "
                "delete it and sign the template off again with `mailer template approve --by NAME`"
            ).format(file=path)
        ) from None


def signed_versions(workspace: Workspace) -> frozenset[str]:
    """The template versions the team has signed off."""
    return frozenset(signoff.version for signoff in read_signoffs(workspace))


def sign_off(workspace: Workspace, by: str, *, version: str | None = None) -> str:
    """Record that `by` signed off the current template version (or `version`); return it."""
    by = by.strip()
    # The same rule as for approving a message (`mailer.review.decisions` imports this module,
    # not the other way round).
    if not by or has_control_characters(by) or len(by) > 80:
        raise MailerError(_("--by: give the name of the person who signs off, e.g. --by 'Anna'"))
    signed = version or template_version(workspace.templates_dir)
    signoffs = read_signoffs(workspace)
    signoffs.append(SignOff(version=signed, by=by, at=now_in_amsterdam()))
    payload = json.dumps([item.model_dump(mode="json") for item in signoffs], indent=2)
    workspace.config_dir.mkdir(parents=True, exist_ok=True)
    durable_write(workspace.config_dir / SIGNOFF_FILE, (payload + "\n").encode("utf-8"))
    return signed
