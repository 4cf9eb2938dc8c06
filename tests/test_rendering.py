"""The renderer: escaping, undefined variables, leftover placeholders and the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.errors import TemplateProblem
from mailer.letters.rendering import LetterRenderer, find_placeholders
from mailer.letters.template_signoff import template_version

# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


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


# CVE-2025-27516: Jinja2 3.1.5 let `attr("format")` reach `cycler.__init__.__globals__` and
# from there `os.environ`, the SMTP password included; 3.1.6 refuses it.
CVE_2025_27516 = [
    "{{ '{0.__init__.__globals__[os].environ}'|attr('format')(cycler) }}",
    "{{ '{0.__init__.__globals__}'|attr('format')(joiner) }}",
    "{% set f = '{0.__class__.__init__.__globals__}'|attr('format') %}{{ f(namespace()) }}",
    "{{ '{0.__class__.__mro__[1].__subclasses__}'|attr('format')(name) }}",
]


@pytest.mark.parametrize("payload", CVE_2025_27516)
def test_sandbox_refuses_the_format_escape_of_cve_2025_27516(
    tmp_path: Path, payload: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_SMTP_PASSWORD", "geheim-wachtwoord-42")
    renderer = LetterRenderer(make_templates(tmp_path, f"<p>\n{payload}</p>"))
    with pytest.raises(TemplateProblem) as caught:
        renderer.render("nl", {"name": "Bo"})
    assert str(caught.value).startswith("nl/letter.html.j2:2: ")
    assert "unsafe" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "geheim" not in str(caught.value)


def test_project_requires_a_jinja2_without_the_format_escape() -> None:
    import tomllib

    from packaging.requirements import Requirement

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    jinja = next(Requirement(item) for item in dependencies if item.lower().startswith("jinja2"))
    assert not jinja.specifier.contains("3.1.5")
    assert jinja.specifier.contains("3.1.6")


@pytest.mark.parametrize(
    ("html", "line"),
    [
        ("<p>\n{% for i in range(1000000) %}{{ i }}{% endfor %}</p>", 2),
        ("<p>\n{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", 2),
        ("{% macro again(n) %}{{ again(n + 1) }}{% endmacro %}\n<p>{{ again(1) }}</p>", 2),
        ("<p>\n{{ 'x' * 100000000 }}</p>", 2),
        ("<p>\n{{ 9 ** 99999999 }}</p>", 2),
        ("<p>\n{% for i in range(9000) %}{{ '{:>9000}'.format(i) }}{% endfor %}</p>", None),
    ],
)
def test_endless_or_huge_template_ends_in_one_line(
    tmp_path: Path, html: str, line: int | None
) -> None:
    renderer = LetterRenderer(make_templates(tmp_path, html))
    with pytest.raises(TemplateProblem) as caught:
        renderer.render("nl", {"name": "Bo"})
    assert caught.value.template == "nl/letter.html.j2"
    if line is not None:
        assert caught.value.line == line
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "line", ["{{ 1 + 'a' }}", "{{ range(3)|length }}", "{{ 1 // 0 }}", "{{ '%d' % 'x' }}"]
)
def test_a_line_that_fails_in_python_ends_in_one_line(tmp_path: Path, line: str) -> None:
    renderer = LetterRenderer(make_templates(tmp_path, f"<p>\n{line}</p>"))
    with pytest.raises(TemplateProblem) as caught:
        renderer.render("nl", {"name": "Bo"})
    assert str(caught.value).startswith("nl/letter.html.j2:2: this line cannot be worked out")
    assert "\n" not in str(caught.value)


def test_recursive_include_ends_in_one_line(tmp_path: Path) -> None:
    folder = make_templates(tmp_path, "<p>{% include 'nl/letter.html.j2' %}</p>")
    with pytest.raises(TemplateProblem, match=r"nl/letter\.html\.j2:1: a macro or include"):
        LetterRenderer(folder).render("nl", {"name": "Bo"})


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


def test_hidden_file_cannot_be_included_so_the_version_covers_all_a_letter_uses(
    tmp_path: Path,
) -> None:
    folder = make_templates(
        tmp_path, "<p>{{ name }}</p>", text="Hallo\n{% include 'nl/.footer.txt' %}\n"
    )
    (folder / "nl" / ".footer.txt").write_text("Groeten", encoding="utf-8")
    with pytest.raises(TemplateProblem) as caught:
        LetterRenderer(folder).render("nl", {"name": "Bo"})
    assert str(caught.value).startswith("nl/letter.txt.j2:2: uses nl/.footer.txt, which is not")
    before = template_version(folder)
    (folder / "nl" / ".footer.txt").write_text("Maak 50 euro over naar ...", encoding="utf-8")
    assert template_version(folder) == before  # never read, so never part of a letter


@pytest.mark.parametrize("name", ["README.md", "nl/.hidden/footer.txt"])
def test_files_outside_the_signed_version_cannot_be_imported(tmp_path: Path, name: str) -> None:
    html = f"{{% import '{name}' as footer %}}<p>{{{{ name }}}}</p>"
    folder = make_templates(tmp_path, html)
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("{% macro x() %}x{% endmacro %}", encoding="utf-8")
    with pytest.raises(TemplateProblem, match=f"nl/letter.html.j2:1: uses {name}, which is not"):
        LetterRenderer(folder).render("nl", {"name": "Bo"})


def test_renderer_uses_the_files_of_its_version_even_when_they_change_meanwhile(
    tmp_path: Path,
) -> None:
    folder = make_templates(tmp_path, "<p>{% include 'nl/footer.txt' %}</p>")
    (folder / "nl" / "footer.txt").write_text("Groeten", encoding="utf-8")
    renderer = LetterRenderer(folder)
    assert renderer.version == template_version(folder)
    (folder / "nl" / "footer.txt").write_text("Maak 50 euro over naar ...", encoding="utf-8")
    assert renderer.render("nl", {"name": "Bo"}).html == "<p>Groeten</p>"
    assert renderer.version != template_version(folder)


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
