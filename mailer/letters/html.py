"""Making the letter's HTML into HTML that mail clients render well, and checking it.

Gmail and Outlook drop or ignore `<style>` blocks in places, so the CSS is inlined with css-inline
(remote stylesheets never fetched; `@media` rules such as dark mode kept in a `<style>` block).
The checks find what a letter must not have: anything loaded from the network (images, fonts,
stylesheets: they leak that a parent opened the mail) and images without `alt` text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import css_inline

from mailer.errors import TemplateProblem

__all__ = ["html_problems", "inline_css", "remote_resources"]

_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
# Attributes whose URL a mail client loads by itself when the message is opened.
_LOADED = {
    ("img", "src"),
    ("img", "srcset"),
    ("link", "href"),
    ("script", "src"),
    ("iframe", "src"),
    ("source", "src"),
    ("source", "srcset"),
    ("video", "poster"),
    ("audio", "src"),
    ("input", "src"),
    ("body", "background"),
    ("table", "background"),
    ("td", "background"),
}
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)", re.IGNORECASE)
_IMPORT = re.compile(r"@import\s+['\"]?([^'\";\s]+)", re.IGNORECASE)
_LOCAL_SCHEMES = ("data:", "cid:", "#")


def inline_css(html: str, template: str = "letter.html.j2") -> str:
    """The HTML with its `<style>` rules moved into `style` attributes; at-rules stay."""
    try:
        inlined: str = _INLINER.inline(html)
    except (css_inline.InlineError, ValueError) as error:
        raise TemplateProblem(template, None, f"the CSS cannot be inlined: {error}") from None
    return inlined


def _is_remote(url: str) -> bool:
    return not url.strip().lower().startswith(_LOCAL_SCHEMES)


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.remote: list[str] = []
        self.images_without_alt = 0
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "img" and "alt" not in values:  # alt="" is right for a decorative image
            self.images_without_alt += 1
        for name, value in values.items():
            if (tag, name) in _LOADED and value and _is_remote(value):
                self.remote.append(value)
            if name == "style":
                self.remote.extend(self._css_urls(value))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
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
    """Every URL a mail client would load by itself when showing `html`."""
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
