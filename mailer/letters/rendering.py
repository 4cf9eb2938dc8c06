"""Rendering the invitation letter from the workspace's templates.

Staff edit these templates, so they run in Jinja2's immutable sandbox with plain data only,
`StrictUndefined` turns a misspelt variable into an error, and HTML escaping is switched on for
`.html.j2` files by name (`select_autoescape` looks only at the last extension, `.j2`).
A rendered letter that still holds a placeholder of the source letter (`[naam kind]`) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mailer.errors import TemplateProblem

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
        if traceback.tb_frame.f_code.co_filename.endswith(template_file):
            line = traceback.tb_lineno
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


class LetterRenderer:
    """Renders the letter parts of one workspace; one instance caches the compiled templates."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self.environment = ImmutableSandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(templates_dir), encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "html.j2"), default_for_string=False
            ),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render_part(self, name: str, context: dict[str, Any]) -> str:
        """Render one template file (relative to the templates folder), refusing any problem."""
        template_file = str(self.templates_dir / name)
        try:
            template = self.environment.get_template(name)
            rendered = template.render(context)
        except jinja2.TemplateNotFound:
            raise TemplateProblem(name, None, "template file is missing") from None
        except jinja2.TemplateSyntaxError as error:
            raise TemplateProblem(name, error.lineno, f"syntax error: {error.message}") from None
        except jinja2.UndefinedError as error:
            line = _template_line(error.__traceback__, template_file)
            raise TemplateProblem(name, line, f"unknown variable: {error.message}") from None
        except jinja2.TemplateError as error:
            line = _template_line(error.__traceback__, template_file)
            raise TemplateProblem(name, line, str(error)) from None
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
        source = (self.templates_dir / name).read_text(encoding="utf-8")
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
            raise TemplateProblem(f"{language}/{LETTER_PARTS['subject']}", None, "subject is empty")
        return RenderedLetter(subject=subject, text=parts["text"], html=parts["html"])
