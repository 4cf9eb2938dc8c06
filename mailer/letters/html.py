"""Making the letter's HTML into HTML that mail clients render well and that loads nothing.

Gmail and Outlook drop or ignore `<style>` blocks in places, so the CSS is inlined with css-inline
(remote stylesheets never fetched; `@media` rules such as dark mode kept in a `<style>` block).
Then the letter is cleaned with allow-lists (`mailer.letters.html_allowlist`): nh3 keeps only
the allowed elements and attributes, the CSS that stays is rebuilt from allowed properties, and
the document around it is written anew. A letter therefore references nothing remote (a remote
image tells a tracker that a parent opened the mail) and runs nothing.
"""

from __future__ import annotations

import html as html_text
import re
from html.parser import HTMLParser

import css_inline
import nh3

from mailer.errors import TemplateProblem
from mailer.letters.css_allowlist import clean_stylesheet
from mailer.letters.html_allowlist import (
    ATTRIBUTES,
    CLEAN_CONTENT_TAGS,
    KEPT_META,
    TAGS,
    URL_SCHEMES,
    allowed_value,
)

__all__ = ["clean_letter_html", "html_problems", "inline_css", "letter_html", "remote_resources"]

_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)


def inline_css(html: str, template: str = "letter.html.j2") -> str:
    """The HTML with its `<style>` rules moved into `style` attributes; at-rules stay."""
    try:
        inlined: str = _INLINER.inline(html)
    except (css_inline.InlineError, ValueError) as error:
        raise TemplateProblem(template, None, f"the CSS cannot be inlined: {error}") from None
    return inlined


class _Frame(HTMLParser):
    """The parts of the document around the body that the letter keeps."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.html_attributes: list[tuple[str, str]] = []
        self.body_attributes: list[tuple[str, str]] = []
        self.meta: list[tuple[str, str]] = []
        self.title: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in ("html", "body"):
            allowed = ATTRIBUTES["*"] | ATTRIBUTES[tag]
            kept = [
                (name, cleaned)
                for name, value in values.items()
                if name in allowed and (cleaned := allowed_value(tag, name, value)) is not None
            ]
            (self.html_attributes if tag == "html" else self.body_attributes).extend(kept)
        elif tag == "meta" and values.get("name") in KEPT_META:
            self.meta.append((values["name"], values.get("content", "")))

    def handle_data(self, data: str) -> None:
        if self.cdata_elem == "style":
            self.styles.append(data)
        elif self.lasttag == "title" and not self.title:
            self.title.append(data)


def _attributes(pairs: list[tuple[str, str]]) -> str:
    return "".join(f' {name}="{html_text.escape(value, quote=True)}"' for name, value in pairs)


def _nh3_filter(tag: str, name: str, value: str) -> str | None:
    return allowed_value(tag, name, value)


def clean_letter_html(html: str) -> str:
    """`html` (a whole document, CSS already inlined) rebuilt from what the allow-lists keep."""
    frame = _Frame()
    frame.feed(html)
    frame.close()
    body = nh3.clean(
        html,
        tags=set(TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=_nh3_filter,
        url_schemes=set(URL_SCHEMES),
        strip_comments=True,
        link_rel=None,  # mail clients open links on their own; nothing to add
    )
    css, _ = clean_stylesheet("\n".join(frame.styles))
    head = ['<meta charset="utf-8">']
    head += [
        f"<meta{_attributes([('name', name), ('content', value)])}>" for name, value in frame.meta
    ]
    if frame.title:
        head.append(f"<title>{html_text.escape(' '.join(frame.title[0].split()))}</title>")
    if css:
        head.append(f"<style>\n{css}\n</style>")
    return (
        f"<!DOCTYPE html>\n<html{_attributes(frame.html_attributes)}>\n<head>\n"
        + "\n".join(head)
        + f"\n</head>\n<body{_attributes(frame.body_attributes)}>\n{body.strip()}\n"
        + "</body>\n</html>\n"
    )


def letter_html(html: str, template: str = "letter.html.j2") -> str:
    """The rendered letter HTML as it is sent: CSS inlined, then cleaned."""
    return clean_letter_html(inline_css(html, template))


# A last look at the result, with the old list of what loads by itself: the allow-lists above
# should never let any of it through, and a test or a future change would show if they did.
_LOADED = {
    ("img", "src"),
    ("img", "srcset"),
    ("link", "href"),
    ("script", "src"),
    ("iframe", "src"),
    ("source", "src"),
    ("source", "srcset"),
    ("video", "poster"),
    ("video", "src"),
    ("audio", "src"),
    ("embed", "src"),
    ("object", "data"),
    ("input", "src"),
    ("frame", "src"),
    ("image", "href"),
    ("use", "href"),
    ("use", "xlink:href"),
    ("body", "background"),
    ("table", "background"),
    ("td", "background"),
}
_CSS_URL = re.compile(r"(?:url|image-set|image)\(\s*['\"]?([^'\")\s]+)", re.IGNORECASE)
_IMPORT = re.compile(r"@import[\s/*]*['\"]?([^'\";\s]+)", re.IGNORECASE)
_LOCAL_SCHEMES = ("data:", "cid:", "#")


def _is_remote(url: str) -> bool:
    return not url.strip().lower().startswith(_LOCAL_SCHEMES)


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.remote: list[str] = []
        self.images_without_alt = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "img" and "alt" not in values:  # alt="" is right for a decorative image
            self.images_without_alt += 1
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.remote.append(values.get("content", ""))
        for name, value in values.items():
            if (tag, name) in _LOADED and value and _is_remote(value):
                self.remote.append(value)
            if name == "style":
                self.remote.extend(self._css_urls(value))

    def handle_data(self, data: str) -> None:
        if self.cdata_elem == "style":
            self.remote.extend(self._css_urls(data))

    @staticmethod
    def _css_urls(css: str) -> list[str]:
        found = _CSS_URL.findall(css) + _IMPORT.findall(css)
        return [url for url in found if _is_remote(url)]


def _scan(html: str) -> _Scanner:
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner


def remote_resources(html: str) -> list[str]:
    """Every URL a mail client would load by itself when showing `html` (a cleaned letter
    has none)."""
    return _scan(html).remote


def html_problems(html: str) -> list[str]:
    """What makes `html` unfit for a letter, in plain words (empty when it is fine)."""
    scanner = _scan(html)
    problems = [
        f"loads {url} from the internet; put the content in the letter itself instead"
        for url in scanner.remote
    ]
    if scanner.images_without_alt:
        problems.append(
            f'{scanner.images_without_alt} image(s) without alt text; add alt="..." to each'
        )
    return problems
