"""Inlining CSS for mail clients, and finding what a letter must not load."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.config import load_settings
from mailer.errors import TemplateProblem
from mailer.intake.records import IntakeRecord
from mailer.letters.compose import Composer
from mailer.letters.html import html_problems, inline_css, remote_resources
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


def test_template_with_a_tracking_pixel_is_refused(workspace: Workspace) -> None:
    template = workspace.templates_dir / "nl" / "letter.html.j2"
    source = template.read_text(encoding="utf-8")
    template.write_text(
        source.replace("</body>", '<img src="https://t.example/p.gif" alt=""></body>'),
        encoding="utf-8",
    )
    composer = Composer(load_settings(workspace.root), LetterRenderer(workspace.templates_dir))
    with pytest.raises(TemplateProblem, match=r"nl/letter.html.j2: loads https://t.example"):
        composer.compose(IntakeRecord.model_validate(intake_row()), "test")


def test_inlining_is_not_confused_by_non_ascii(tmp_path: Path) -> None:
    inlined = inline_css("<style>p{color:red}</style><p>Zoë, Đorđe, Ümit</p>")
    assert "Zoë, Đorđe, Ümit" in inlined
