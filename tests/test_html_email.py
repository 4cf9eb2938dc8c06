"""Inlining CSS for mail clients, and finding what a letter must not load."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.config import load_settings
from mailer.intake.records import IntakeRecord
from mailer.letters.compose import Composer
from mailer.letters.html import html_problems, inline_css, letter_html, remote_resources
from mailer.letters.html_allowlist import removals
from mailer.letters.rendering import LetterRenderer
from mailer.workspace import Workspace
from tests.conftest import intake_row

PAGE = """<html><head><style>
.card { color: #222222; }
@media (prefers-color-scheme: dark) { .card { color: #eeeeee !important; } }
</style><link rel="stylesheet" href="https://fonts.example/font.css"></head>
<body><p class="card">Hallo</p></body></html>"""


def test_inlining_moves_rules_into_style_attributes_and_keeps_dark_mode() -> None:
    inlined = inline_css(PAGE)
    assert 'class="card" style="color: #222222;"' in inlined
    assert "@media (prefers-color-scheme: dark)" in inlined
    assert "fonts.example" not in inlined  # remote stylesheets are never fetched or kept


@pytest.mark.parametrize(
    "html",
    [
        '<img src="https://tracker.example/pixel.gif" alt="">',
        '<img srcset="//cdn.example/a.png 2x" alt="x">',
        '<link rel="stylesheet" href="http://fonts.example/a.css">',
        '<td style="background-image: url(https://cdn.example/bg.png)">x</td>',
        "<style>@import 'https://fonts.example/b.css';</style>",
        '<table background="https://cdn.example/t.png"><tr><td>x</td></tr></table>',
    ],
)
def test_remote_resources_are_found(html: str) -> None:
    assert remote_resources(html) != []
    assert html_problems(html)


def test_embedded_images_and_links_are_fine() -> None:
    html = '<img src="cid:logo" alt="Logo"><a href="https://example.nl">site</a>'
    assert remote_resources(html) == []
    assert html_problems(html) == []


def test_image_without_alt_is_a_problem() -> None:
    assert html_problems('<img src="cid:logo">') == [
        '1 image(s) without alt text; add alt="..." to each'
    ]
    assert html_problems('<img src="cid:logo" alt="">') == []


def test_template_with_a_tracking_pixel_gives_a_letter_without_it(workspace: Workspace) -> None:
    template = workspace.templates_dir / "nl" / "letter.html.j2"
    source = template.read_text(encoding="utf-8")
    template.write_text(
        source.replace("</body>", '<img src="https://t.example/p.gif" alt=""></body>'),
        encoding="utf-8",
    )
    composer = Composer(load_settings(workspace.root), LetterRenderer(workspace.templates_dir))
    composed = composer.compose(IntakeRecord.model_validate(intake_row()), "test")
    assert b"t.example" not in composed.data


LETTER = """<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">
<meta name="color-scheme" content="light dark"><title>Brief voor Zoë</title>
<meta http-equiv="refresh" content="0;url=https://t.example/r">
<style>
.card { color: #222222; background: #ffffff; border-radius: 8px; }
.bg { background: u\\72l(https://t.example/bg.png); color: #111111; }
@import/**/"https://t.example/a.css";
@font-face { font-family: X; src: url(https://t.example/x.woff); }
@media (prefers-color-scheme: dark) { .card { color: #eeeeee !important; } }
</style></head>
<body style="margin: 0"><table role="presentation" width="600" class="card"><tr>
<td class="bg" onclick="steal()">Hallo <a href="https://kinderopvang.example/info">info</a>
<a href="javascript:alert(1)">klik</a><img src="cid:logo" alt="Logo">
<img src="data:image/png;base64,iVBORw0KGgo=" alt=""><img src="https://t.example/p.gif" alt="">
<video src="https://t.example/v.mp4">tekst</video><script>x()</script>
<svg><image href="https://t.example/i.png"/></svg></td></tr></table></body></html>"""


def test_cleaned_letter_keeps_layout_styles_and_embedded_images_and_nothing_remote() -> None:
    cleaned = letter_html(LETTER)
    assert remote_resources(cleaned) == []
    assert "t.example" not in cleaned
    for gone in ("<script", "onclick", "javascript:", "<video", "<svg", "@import", "@font-face"):
        assert gone not in cleaned
    assert '<html lang="nl">' in cleaned and "<title>Brief voor Zoë</title>" in cleaned
    assert '<meta name="color-scheme" content="light dark">' in cleaned
    assert "@media (prefers-color-scheme: dark)" in cleaned
    assert ".card { color: #eeeeee !important }" in cleaned
    assert '<body style="margin: 0">' in cleaned
    assert 'role="presentation"' in cleaned and 'width="600"' in cleaned
    assert "color: #222222; background: #ffffff; border-radius: 8px" in cleaned
    assert 'style="color: #111111"' in cleaned  # the remote background went, the colour stayed
    assert 'href="https://kinderopvang.example/info"' in cleaned
    assert 'src="cid:logo"' in cleaned and 'src="data:image/png;base64,' in cleaned
    assert "Hallo" in cleaned and "tekst" not in cleaned


def test_what_the_cleaning_takes_out_is_listed_with_its_line() -> None:
    found = {(item.line, item.what.split(" ")[0]) for item in removals(LETTER)}
    assert (3, "<meta") in found
    assert (6, "CSS") in found and (7, "CSS") in found and (8, "CSS") in found
    assert (12, 'onclick="steal()"') in found
    assert (13, 'href="javascript:alert(1)"') in found
    assert (14, 'src="https://t.example/p.gif"') in found
    assert (15, "<video>") in found and (15, "<script>") in found
    assert (16, "<svg>") in found and (16, "<image>") in found
    assert removals(letter_html(LETTER)) == []


def test_a_style_string_cannot_end_the_style_element() -> None:
    html = '<html><head><style>p { font-family: "</style><script>x()</script>" }</style></head>'
    cleaned = letter_html(html + "<body><p>Hoi</p></body></html>")
    assert "<script" not in cleaned


def test_inlining_is_not_confused_by_non_ascii(tmp_path: Path) -> None:
    inlined = inline_css("<style>p{color:red}</style><p>Zoë, Đorđe, Ümit</p>")
    assert "Zoë, Đorđe, Ümit" in inlined
