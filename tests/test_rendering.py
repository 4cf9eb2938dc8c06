"""The renderer: escaping, undefined variables, leftover placeholders and the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.errors import TemplateProblem
from mailer.letters.rendering import LetterRenderer, find_placeholders
from mailer.letters.template_signoff import template_version


def make_templates(
    root: Path, html: str, text: str = "Hallo {{ name }}\n", subject: str = "Over {{ name }}"
) -> Path:
    folder = root / "templates"
    (folder / "nl").mkdir(parents=True)
    (folder / "nl" / "subject.txt.j2").write_text(subject, encoding="utf-8")
    (folder / "nl" / "letter.txt.j2").write_text(text, encoding="utf-8")
    (folder / "nl" / "letter.html.j2").write_text(html, encoding="utf-8")
    return folder


def test_html_is_escaped_and_text_is_not(tmp_path: Path) -> None:
    renderer = LetterRenderer(make_templates(tmp_path, "<p>{{ name }}</p>"))
    letter = renderer.render("nl", {"name": "<b>Zoë</b> & <script>x()</script>"})
    assert letter.html == "<p>&lt;b&gt;Zoë&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;</p>"
    assert letter.text == "Hallo <b>Zoë</b> & <script>x()</script>\n"


def test_subject_is_one_line(tmp_path: Path) -> None:
    renderer = LetterRenderer(
        make_templates(tmp_path, "<p></p>", subject="Uitnodiging\n  voor {{ name }}\n")
    )
    assert renderer.render("nl", {"name": "Bo"}).subject == "Uitnodiging voor Bo"


def test_undefined_variable_names_template_and_line(tmp_path: Path) -> None:
    renderer = LetterRenderer(make_templates(tmp_path, "<p>\n{{ name }}\n{{ naam_kind }}</p>"))
    with pytest.raises(TemplateProblem) as caught:
        renderer.render("nl", {"name": "Bo"})
    assert caught.value.template == "nl/letter.html.j2"
    assert caught.value.line == 3
    assert "naam_kind" in str(caught.value)


def test_syntax_error_names_template_and_line(tmp_path: Path) -> None:
    renderer = LetterRenderer(make_templates(tmp_path, "<p>\n{% if name %}\n</p>"))
    with pytest.raises(TemplateProblem, match=r"nl/letter.html.j2:\d+: syntax error"):
        renderer.render("nl", {"name": "Bo"})


def test_placeholder_of_the_source_letter_is_refused_with_its_line(tmp_path: Path) -> None:
    text = "Beste {{ name }},\n\nBinnenkort verwelkomen we [naam kind] op de groep.\n"
    renderer = LetterRenderer(make_templates(tmp_path, "<p>{{ name }}</p>", text=text))
    with pytest.raises(TemplateProblem) as caught:
        renderer.render("nl", {"name": "Bo"})
    assert str(caught.value) == (
        "nl/letter.txt.j2:3: placeholder [naam kind] is still in the letter; "
        "replace it with a value"
    )


def test_outlook_conditional_comments_are_not_placeholders() -> None:
    assert find_placeholders("<!--[if mso]><table><![endif]-->\n<p>Hoi</p>") == []
    assert find_placeholders("a\n[Naam groep en kinderopvanglocatie]") == [
        (2, "[Naam groep en kinderopvanglocatie]")
    ]


def test_sandbox_blocks_reaching_into_python(tmp_path: Path) -> None:
    html = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    renderer = LetterRenderer(make_templates(tmp_path, html))
    with pytest.raises(TemplateProblem, match=r"nl/letter\.html\.j2"):
        renderer.render("nl", {"name": "Bo"})


def test_missing_language_folder_is_a_clear_problem(tmp_path: Path) -> None:
    renderer = LetterRenderer(make_templates(tmp_path, "<p></p>"))
    with pytest.raises(TemplateProblem, match=r"en/subject\.txt\.j2: template file is missing"):
        renderer.render("en", {"name": "Bo"})


def test_template_version_changes_with_any_template_file(tmp_path: Path) -> None:
    folder = make_templates(tmp_path, "<p>{{ name }}</p>")
    before = template_version(folder)
    assert template_version(folder) == before
    (folder / "nl" / "letter.txt.j2").write_text("Dag {{ name }}\n", encoding="utf-8")
    assert template_version(folder) != before


def test_template_version_covers_included_files_but_not_the_readme(tmp_path: Path) -> None:
    folder = make_templates(tmp_path, "<p>{% include 'nl/footer.txt' %}</p>")
    (folder / "nl" / "footer.txt").write_text("Groeten", encoding="utf-8")
    (folder / "README.md").write_text("How to adapt the letter", encoding="utf-8")
    before = template_version(folder)
    (folder / "README.md").write_text("Clearer instructions", encoding="utf-8")
    assert template_version(folder) == before
    (folder / "nl" / "footer.txt").write_text("Maak 50 euro over naar ...", encoding="utf-8")
    assert template_version(folder) != before


def test_brackets_from_the_data_are_not_taken_for_a_placeholder(tmp_path: Path) -> None:
    renderer = LetterRenderer(make_templates(tmp_path, "<p>{{ name }}</p>"))
    letter = renderer.render("nl", {"name": "Kim [roepnaam Kimmie]"})
    assert "Kim [roepnaam Kimmie]" in letter.text
    with pytest.raises(TemplateProblem, match=r"\[naam kind\]"):
        LetterRenderer(make_templates(tmp_path / "b", "<p>[naam kind]</p>")).render(
            "nl", {"name": "Kim [roepnaam Kimmie]"}
        )
