"""What a letter's HTML may hold, and a list of what a template would lose by it.

The letter is cleaned with allow-lists (`mailer.letters.html` runs nh3 with these): text,
tables, lists, links and images embedded in the message (`cid:`, `data:image/...`). Nothing that
loads (video, objects, frames, SVG, stylesheets, remote images) or runs (scripts, event
attributes, `<meta http-equiv=refresh>`) survives. `removals` tells the team what a template
would lose, line by line, so `mailer template check` can report it before anyone signs off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from mailer.i18n import _
from mailer.letters.css_allowlist import clean_declarations, clean_stylesheet

__all__ = [
    "ATTRIBUTES",
    "CLEAN_CONTENT_TAGS",
    "DOCUMENT_TAGS",
    "KEPT_META",
    "TAGS",
    "URL_SCHEMES",
    "Removal",
    "allowed_value",
    "removals",
]

TAGS = frozenset(
    {
        *("a", "abbr", "b", "big", "blockquote", "br", "caption", "center", "cite", "code"),
        *("col", "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "hr", "i", "img"),
        *("ins", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong"),
        *("sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "wbr"),
    }
)
# Taken out together with everything inside them.
CLEAN_CONTENT_TAGS = frozenset(
    {
        *("script", "style", "title", "noscript", "template", "textarea", "select", "svg"),
        *("math", "iframe", "frame", "frameset", "noframes", "object", "applet", "xmp"),
        *("noembed", "audio", "video"),
    }
)
# The document around the letter, which `mailer.letters.html` writes anew.
DOCUMENT_TAGS = frozenset({"html", "head", "body", "title", "style"})
KEPT_META = frozenset({"viewport", "color-scheme", "supported-color-schemes"})
_GENERAL = frozenset(
    {"class", "id", "dir", "lang", "title", "style", "align", "valign", "role", "width", "height"}
    | {"aria-label", "aria-hidden"}
)
ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": _GENERAL,
    "a": frozenset({"href", "name", "target"}),
    "img": frozenset({"src", "alt", "border"}),
    "table": frozenset({"border", "cellpadding", "cellspacing", "bgcolor", "summary"}),
    "tr": frozenset({"bgcolor"}),
    "td": frozenset({"colspan", "rowspan", "bgcolor", "nowrap", "scope", "abbr"}),
    "th": frozenset({"colspan", "rowspan", "bgcolor", "nowrap", "scope", "abbr"}),
    "font": frozenset({"color", "face", "size"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "ol": frozenset({"start", "type", "reversed"}),
    "ul": frozenset({"type"}),
    "li": frozenset({"value"}),
    "html": frozenset({"lang", "dir"}),
    "body": frozenset({"bgcolor"}),
}
# nh3 checks schemes first; `allowed_value` then narrows them per attribute.
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid", "data"})
_LINK = re.compile(r"(https?://|mailto:|tel:|#)", re.IGNORECASE)
_EMBEDDED_IMAGE = re.compile(
    r"(cid:\S+|data:image/(png|gif|jpeg|webp);base64,[A-Za-z0-9+/=\s]+)\Z", re.IGNORECASE
)
_COLOUR = re.compile(r"#?[0-9A-Za-z]{1,20}\Z")


def allowed_value(tag: str, name: str, value: str) -> str | None:
    """The value an allowed attribute may keep (CSS cleaned), or None to take it out.

    A link may point anywhere a parent can choose to go; an image must be part of the message
    itself, since a mail client loads a remote image by itself and so tells the sender that
    (and when, and where) the letter was read.
    """
    if name == "style":
        return clean_declarations(value)[0] or None
    if tag == "a" and name == "href":
        return value if _LINK.match(value.strip()) else None
    if tag == "img" and name == "src":
        return value if _EMBEDDED_IMAGE.match(value.strip()) else None
    if name in ("bgcolor", "color"):
        return value if _COLOUR.match(value.strip()) else None
    return value


@dataclass(frozen=True)
class Removal:
    """One thing the cleaning takes out: the line of the rendered HTML it is on, what it is,
    and a short text to find it by in a template."""

    line: int
    what: str
    hint: str


def _attribute_text(name: str, value: str | None) -> str:
    return name if value is None else f'{name}="{value[:80]}"'


def _of(part: str, tag: str) -> str:
    return _("{part} of <{tag}>").format(part=part, tag=tag)


class _Inventory(HTMLParser):
    """Walks the rendered HTML with the same rules the cleaning applies, noting each loss."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Removal] = []
        self._style_line: int | None = None
        self._style: list[str] = []

    def _note(self, what: str, hint: str, line: int | None = None) -> None:
        self.found.append(Removal(line or self.getpos()[0], what, hint))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "style":
            self._style_line, self._style = None, []
            return
        if tag == "meta":
            names = dict(attrs)
            if "charset" not in names and names.get("name") not in KEPT_META:
                shown = " ".join(_attribute_text(name, value) for name, value in attrs)
                self._note(f"<meta {shown}>", "<meta")
            return
        if tag in DOCUMENT_TAGS:
            self._check_attributes(tag, attrs)
            return
        if tag not in TAGS:
            self._note(f"<{tag}>", f"<{tag}")
            return
        self._check_attributes(tag, attrs)

    def _check_attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        allowed = ATTRIBUTES["*"] | ATTRIBUTES.get(tag, frozenset())
        for name, value in attrs:
            if name not in allowed:
                self._note(_of(_attribute_text(name, value), tag), name)
            elif name == "style":
                for css in clean_declarations(value or "")[1]:
                    self._note(_of(f"CSS {css.what}", tag), css.what.split(":")[0])
            elif allowed_value(tag, name, value or "") is None:
                self._note(_of(_attribute_text(name, value), tag), value or name)

    def handle_data(self, data: str) -> None:
        if self._style_line is None and self.lasttag == "style" and self.cdata_elem == "style":
            self._style_line = self.getpos()[0]
        if self.cdata_elem == "style":
            self._style.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != "style" or self._style_line is None:
            return
        for css in clean_stylesheet("".join(self._style))[1]:
            at_rule = re.match(r"@[\w-]+", css.what)
            hint = at_rule.group() if at_rule else css.what.split("{")[0].split(":")[0].strip()
            self._note(f"CSS {css.what}", hint, self._style_line + css.line - 1)
        self._style_line, self._style = None, []

    def handle_comment(self, data: str) -> None:
        # Outlook's conditional comments hold markup that only Outlook shows: it goes too.
        if data.lstrip().lower().startswith("[if"):
            self._note(f"<!--{data.strip()[:40]}...-->", "<!--[if")


def removals(html: str) -> list[Removal]:
    """What cleaning `html` would take out, in the order it appears."""
    inventory = _Inventory()
    inventory.feed(html)
    inventory.close()
    return inventory.found
