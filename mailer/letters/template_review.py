"""The team's review of the letter templates: check them, preview them, before they are signed off.

`check_templates` renders every language and every kind of letter (invitation, update,
cancellation) with fictional sample data and reports each problem as `FILE:LINE: problem`: syntax
errors, unknown variables (also in branches the sample does not reach), leftover `[...]`
placeholders, and everything the cleaning of the HTML takes out (what would load something from
the internet or run: `mailer.letters.html_allowlist`). `write_preview` writes the sample letter
as HTML, text and (where Chromium is installed) a PDF for a team meeting.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, get_args

import jinja2
from jinja2 import meta, nodes

from mailer.config import Settings
from mailer.errors import MailerError, TemplateProblem
from mailer.i18n import _
from mailer.intake.records import IntakeRecord
from mailer.letters.compose import Composer
from mailer.letters.context import LetterKind, letter_context
from mailer.letters.html_allowlist import Removal, removals
from mailer.letters.message import letter_parts
from mailer.letters.rendering import LETTER_PARTS, LetterRenderer
from mailer.letters.template_files import TemplateFiles
from mailer.workspace import Workspace

__all__ = [
    "KINDS",
    "TemplateIssue",
    "check_templates",
    "find_browser",
    "languages",
    "sample_record",
    "write_preview",
]

KINDS: tuple[LetterKind, ...] = get_args(LetterKind)
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Fictional example data, clearly recognisable as such in a preview.
_SAMPLE: dict[str, dict[str, str]] = {
    "nl": {
        "child_name": "Noor Voorbeeld",
        "parent1_name": "Sanne",
        "parent1_email": "sanne@voorbeeld.example",
        "parent2_name": "Mark",
        "parent2_email": "mark@voorbeeld.example",
        "professionals": "Anna; Fatima; Joost",
    },
    "en": {
        "child_name": "Noor Example",
        "parent1_name": "Claire",
        "parent1_email": "claire@example.example",
        "parent2_name": "Julien",
        "parent2_email": "julien@example.example",
        "professionals": "Anna; Fatima; Joost",
    },
}


@dataclass(frozen=True)
class TemplateIssue:
    """One problem in one template file, printed as `FILE:LINE: problem`."""

    file: str
    line: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.problem}"


def languages(templates_dir: Path) -> list[str]:
    """The language folders that hold a letter (`nl`, `en`, ...)."""
    if not templates_dir.is_dir():
        return []
    return sorted(
        folder.name
        for folder in templates_dir.iterdir()
        if folder.is_dir() and any((folder / name).exists() for name in LETTER_PARTS.values())
    )


def sample_record(language: str, settings: Settings, *, weeks_ahead: int = 3) -> IntakeRecord:
    """A fictional record in `language`, at the first location in the configuration."""
    location = next(iter(settings.locations), "Locatie")
    meeting = date.today() + timedelta(weeks=weeks_ahead)
    row: dict[str, Any] = {
        "id": f"VOORBEELD-{language}",
        "group": "Dolfijnen",
        "location": location,
        "meeting_date": meeting.isoformat(),
        "meeting_time": "14:30",
        "language": language if language in _SAMPLE else "nl",
        **_SAMPLE.get(language, _SAMPLE["nl"]),
    }
    return IntakeRecord.model_validate(row, context={"stored": True})


def _relative(workspace: Workspace, template: str) -> str:
    return f"{workspace.templates_dir.name}/{template}"


def _unknown_variables(
    environment: jinja2.Environment, source: str, known: set[str]
) -> list[tuple[int, str]]:
    # StrictUndefined only notices a variable on the branch a render takes; the parsed template
    # shows every variable of every branch.
    tree = environment.parse(source)
    unknown = meta.find_undeclared_variables(tree) - known
    found: dict[str, int] = {}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name in unknown and name.name not in found:
            found[name.name] = name.lineno
    return sorted((line, variable) for variable, line in found.items())


def _static_issues(
    workspace: Workspace, renderer: LetterRenderer, language: str, known: set[str]
) -> list[TemplateIssue]:
    issues: list[TemplateIssue] = []
    for file in LETTER_PARTS.values():
        name = f"{language}/{file}"
        path = workspace.templates_dir / name
        if not path.is_file():
            issues.append(TemplateIssue(_relative(workspace, name), None, "file is missing"))
            continue
        try:
            source = path.read_text(encoding="utf-8")
            unknown = _unknown_variables(renderer.environment, source, known)
        except UnicodeDecodeError:
            issues.append(TemplateIssue(_relative(workspace, name), None, "not UTF-8 text"))
            continue
        except jinja2.TemplateSyntaxError as error:
            problem = f"syntax error: {error.message}"
            issues.append(TemplateIssue(_relative(workspace, name), error.lineno, problem))
            continue
        issues.extend(
            TemplateIssue(_relative(workspace, name), line, f"unknown variable '{variable}'")
            for line, variable in unknown
        )
    return issues


def _locate(files: TemplateFiles, main: str, needles: list[str]) -> tuple[str, int | None]:
    """The template file and line a piece of rendered HTML comes from: the first line that
    holds the rendered line itself, else the short hint; the main template when neither."""
    names = [main, *sorted(name for name in files.files if name != main)]
    for needle in (item.strip().lower() for item in needles):
        if not needle:
            continue
        for name in names:
            try:
                lines = (files.text(name) or "").lower().splitlines()
            except UnicodeDecodeError:
                continue
            for number, line in enumerate(lines, start=1):
                if needle in line:
                    return name, number
    return main, None


def _removal_issue(
    workspace: Workspace, renderer: LetterRenderer, html_name: str, rendered: str, removal: Removal
) -> TemplateIssue:
    lines = rendered.splitlines()
    rendered_line = lines[removal.line - 1] if 0 < removal.line <= len(lines) else ""
    name, line = _locate(renderer.files, html_name, [rendered_line, removal.hint])
    problem = _(
        "{what} is taken out of the letter: a letter may load nothing from the internet and "
        "run nothing; put the content in the letter itself (see templates/README.md)"
    ).format(what=removal.what)
    return TemplateIssue(_relative(workspace, name), line, problem)


def _removal_issues(
    workspace: Workspace, renderer: LetterRenderer, contexts: list[dict[str, Any]], language: str
) -> list[TemplateIssue]:
    """What cleaning the HTML takes out of the letter, for every kind of letter."""
    html_name = f"{language}/{LETTER_PARTS['html']}"
    issues: list[TemplateIssue] = []
    for context in contexts:
        try:
            rendered = renderer.render_part(html_name, context)
        except TemplateProblem:
            continue  # composing reports it
        for removal in removals(rendered):
            issue = _removal_issue(workspace, renderer, html_name, rendered, removal)
            if issue not in issues:
                issues.append(issue)
    return issues


def check_templates(workspace: Workspace, settings: Settings) -> list[TemplateIssue]:
    """Every problem of the workspace's templates, in every language and kind of letter."""
    renderer = LetterRenderer(workspace.templates_dir)
    composer = Composer(settings, renderer)
    found = languages(workspace.templates_dir)
    if not found:
        return [TemplateIssue(workspace.templates_dir.name, None, "no letter templates found")]
    issues: list[TemplateIssue] = []
    for language in found:
        record = sample_record(language, settings)
        known = set(letter_context(record, settings))
        static = _static_issues(workspace, renderer, language, known)
        issues.extend(static)
        if static:
            continue  # rendering would only report the same problem again
        previous = sample_record(language, settings, weeks_ahead=2)
        contexts = [
            letter_context(record, settings, kind=kind, previous=previous) for kind in KINDS
        ]
        issues.extend(_removal_issues(workspace, renderer, contexts, language))
        for kind in KINDS:
            try:
                composer.compose(record, "template check", kind=kind, previous=previous)
            except TemplateProblem as problem:
                issue = TemplateIssue(
                    _relative(workspace, problem.template), problem.line, problem.problem
                )
                if issue not in issues:
                    issues.append(issue)
            except MailerError as error:
                issues.append(
                    TemplateIssue(
                        f"{workspace.templates_dir.name}/{language}", None, f"{kind}: {error}"
                    )
                )
    return issues


def find_browser() -> str | None:
    """A Chromium-based browser on this computer, for printing the preview to PDF."""
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _print_pdf(browser: str, html_file: Path, pdf_file: Path) -> bool:
    arguments = [
        browser,
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf_file}",
        html_file.resolve().as_uri(),
    ]
    if os.geteuid() == 0:
        arguments.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    try:
        subprocess.run(arguments, capture_output=True, timeout=90, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return pdf_file.is_file() and pdf_file.stat().st_size > 0


def write_preview(
    workspace: Workspace,
    settings: Settings,
    language: str,
    out_dir: Path,
    *,
    kind: LetterKind = "invitation",
    pdf: bool = True,
) -> list[Path]:
    """Write the sample letter as `.html`, `.txt`, `.eml` and (with a browser) `.pdf`."""
    composer = Composer(settings, LetterRenderer(workspace.templates_dir))
    record = sample_record(language, settings)
    previous = sample_record(language, settings, weeks_ahead=2)
    composed = composer.compose(record, "preview", kind=kind, previous=previous)
    parts = letter_parts(composed.data)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"letter-{language}-{kind}"
    written = [stem.with_suffix(".html"), stem.with_suffix(".txt"), stem.with_suffix(".eml")]
    written[0].write_text(parts.html or "", encoding="utf-8")
    written[1].write_text(f"{parts.subject}\n\n{parts.text or ''}", encoding="utf-8")
    written[2].write_bytes(composed.data)
    browser = find_browser() if pdf else None
    if browser and _print_pdf(browser, written[0], stem.with_suffix(".pdf")):
        written.append(stem.with_suffix(".pdf"))
    return written
