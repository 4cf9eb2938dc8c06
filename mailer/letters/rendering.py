"""Rendering the invitation letter from the workspace's templates.

Staff edit these templates, so they run in a bounded Jinja2 sandbox with plain data only
(`mailer.letters.sandbox`), `StrictUndefined` turns a misspelt variable into an error, and HTML
escaping is switched on for `.html.j2` files by name (`select_autoescape` looks only at the last
extension, `.j2`). The templates are read once (`mailer.letters.template_files`): a renderer uses
exactly the files of its `version`, and no other file. A rendered letter that still holds a
placeholder of the source letter (`[naam kind]`) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from mailer.errors import TemplateProblem
from mailer.i18n import _
from mailer.letters.sandbox import MAX_OUTPUT, LetterEnvironment, loop_budget
from mailer.letters.template_files import TemplateFiles

__all__ = [
    "LETTER_PARTS",
    "LetterRenderer",
    "RenderedLetter",
    "find_placeholders",
]

# The three files of a letter, per language folder (`templates/nl/...`).
LETTER_PARTS = {"subject": "subject.txt.j2", "text": "letter.txt.j2", "html": "letter.html.j2"}

# `[naam kind]`, `[Namen pedagogisch professionals]`: bracketed words of the source letter.
# Outlook's conditional comments (`<!--[if mso]>`) are removed before looking.
_PLACEHOLDER = re.compile(r"\[[^\[\]\n<>{}]*[A-Za-zÀ-ÿ][^\[\]\n<>{}]*\]")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True)
class RenderedLetter:
    """The three rendered parts of one letter."""

    subject: str
    text: str
    html: str


def find_placeholders(text: str) -> list[tuple[int, str]]:
    """Every `[...]` placeholder in `text` with its line number (1-based)."""
    visible = _HTML_COMMENT.sub(lambda match: "\n" * match.group().count("\n"), text)
    found: list[tuple[int, str]] = []
    for number, line in enumerate(visible.splitlines(), start=1):
        found.extend((number, match.group()) for match in _PLACEHOLDER.finditer(line))
    return found


def _template_line(traceback: TracebackType | None, template_file: str) -> int | None:
    # Jinja2 rewrites tracebacks so that frames inside a template carry its file name and line.
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == template_file:
            line = traceback.tb_lineno
            break  # the outermost frame of this file: the line that started the trouble
        traceback = traceback.tb_next
    return line


def _strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings_in(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings_in(item)]
    return []


def _bounded_render(template: jinja2.Template, context: dict[str, Any]) -> str:
    """The rendered text, stopped once it grows past `MAX_OUTPUT` (a loop that writes forever)."""
    pieces: list[str] = []
    size = 0
    with loop_budget():
        for piece in template.generate(context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise jinja2.TemplateRuntimeError(
                    _(
                        "the letter grows past {limit} characters; check the loops (`for`) "
                        "and macros of this template"
                    ).format(limit=f"{MAX_OUTPUT:,}")
                )
            pieces.append(piece)
    return "".join(pieces)


def _not_found(name: str, error: jinja2.TemplateNotFound) -> TemplateProblem:
    if error.name == name:
        return TemplateProblem(name, None, "template file is missing")
    # An include or import of a file that is not part of the letter: missing, hidden, or the
    # folder's README (which the signed version does not cover).
    line = _template_line(error.__traceback__, name)
    problem = _(
        "uses {file}, which is not one of the letter's files; a file whose name starts with "
        "a dot, and README.md, are never used: rename it or correct the name"
    ).format(file=error.name)
    return TemplateProblem(name, line, problem)


class _SnapshotLoader(jinja2.BaseLoader):
    """Serves the files of one `TemplateFiles` and nothing else."""

    def __init__(self, files: TemplateFiles) -> None:
        self.files = files

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        try:
            source = self.files.text(template)
        except UnicodeDecodeError:
            raise jinja2.TemplateError(
                _("{template} is not UTF-8 text").format(template=template)
            ) from None
        if source is None:
            raise jinja2.TemplateNotFound(template)
        # The file name lets Jinja2 put the template's line numbers into tracebacks; the
        # source never changes for this snapshot.
        return source, template, lambda: True


class LetterRenderer:
    """Renders the letter parts of one workspace; one instance caches the compiled templates."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self.files = TemplateFiles.read(templates_dir)
        self.environment = LetterEnvironment(
            loader=_SnapshotLoader(self.files),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "html.j2"), default_for_string=False
            ),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    @property
    def version(self) -> str:
        """The template version this renderer renders: the hash of exactly its files."""
        return self.files.version

    def render_part(self, name: str, context: dict[str, Any]) -> str:
        """Render one template file (relative to the templates folder), refusing any problem."""
        try:
            template = self.environment.get_template(name)
            rendered = _bounded_render(template, context)
        except jinja2.TemplateNotFound as error:
            raise _not_found(name, error) from None
        except jinja2.TemplateSyntaxError as error:
            where = error.name or name
            raise TemplateProblem(where, error.lineno, f"syntax error: {error.message}") from None
        except jinja2.UndefinedError as error:
            line = _template_line(error.__traceback__, name)
            raise TemplateProblem(name, line, f"unknown variable: {error.message}") from None
        except SecurityError as error:
            line = _template_line(error.__traceback__, name)
            problem = _(
                "the template reaches into the program ({detail}); use only the letter's variables"
            ).format(detail=error)
            raise TemplateProblem(name, line, problem) from None
        except jinja2.TemplateError as error:
            line = _template_line(error.__traceback__, name)
            raise TemplateProblem(name, line, str(error)) from None
        except RecursionError as error:
            line = _template_line(error.__traceback__, name)
            problem = _(
                "a macro or include calls itself without end; make sure it stops calling itself"
            )
            raise TemplateProblem(name, line, problem) from None
        except Exception as error:  # `{{ 1 + "a" }}`: whatever a template line does wrong
            line = _template_line(error.__traceback__, name)
            detail = " ".join(str(error).split()) or error.__class__.__name__
            problem = _("this line cannot be worked out ({detail}); correct it").format(
                detail=detail
            )
            raise TemplateProblem(name, line, problem) from None
        self._refuse_placeholders(name, rendered, context)
        return rendered

    def _refuse_placeholders(self, name: str, rendered: str, context: dict[str, Any]) -> None:
        # Brackets that come from the record (a nickname written as "Kim [Kimmie]") are data,
        # not a placeholder the template forgot.
        data = _strings_in(context)
        placeholders = [
            text
            for _, text in find_placeholders(rendered)
            if not any(text in value for value in data)
        ]
        if not placeholders:
            return
        placeholder = placeholders[0]
        source = self.files.text(name) or ""
        source_hits = [line for line, text in find_placeholders(source) if text == placeholder]
        line = source_hits[0] if source_hits else None
        raise TemplateProblem(
            name, line, f"placeholder {placeholder} is still in the letter; replace it with a value"
        )

    def render(self, language: str, context: dict[str, Any]) -> RenderedLetter:
        """Render subject, text and HTML of the letter in `language`."""
        parts = {
            part: self.render_part(f"{language}/{file}", context)
            for part, file in LETTER_PARTS.items()
        }
        subject = " ".join(parts["subject"].split())
        if not subject:
            raise TemplateProblem(
                f"{language}/{LETTER_PARTS['subject']}", None, _("subject is empty")
            )
        return RenderedLetter(subject=subject, text=parts["text"], html=parts["html"])
