"""`mailer template check|preview|approve`, `mailer rerender` and `mailer cancel` in real
workspaces, and the sign-off's effect on approving messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer.letters.template_signoff import (
    SIGNOFF_FILE,
    read_signoffs,
    sign_off,
    signed_versions,
    template_version,
)
from mailer.outbox.store import Outbox, State
from mailer.review.decisions import ReviewPolicy, approve
from mailer.workspace import Workspace
from tests.conftest import intake_row, write_csv

Run = Callable[..., tuple[int, str, str]]


def _edit(workspace: Workspace, name: str, old: str, new: str) -> None:
    path = workspace.templates_dir / name
    source = path.read_text(encoding="utf-8")
    assert old in source
    path.write_text(source.replace(old, new, 1), encoding="utf-8")


def _queue_one(run_cli: Run, tmp_path: Path, **row: str) -> str:
    path = write_csv(tmp_path / "intake.csv", [intake_row(**row)])
    code, out, err = run_cli("queue", str(path), "--by", "coach", "--json")
    assert code == 0, err
    queued: list[str] = json.loads(out)["queued"]
    return queued[0]


@pytest.mark.usefixtures("english")
def test_check_passes_on_the_default_templates(run_cli: Run) -> None:
    code, out, err = run_cli("template", "check")
    assert code == 0, err
    assert "Templates are fine in en, nl" in out
    assert "not signed off yet" in out


def test_check_reports_syntax_error_with_file_and_line(run_cli: Run, workspace: Workspace) -> None:
    _edit(
        workspace,
        "nl/letter.txt.j2",
        "{{ group }}",
        "{{ group }",
    )
    code, _, err = run_cli("template", "check")
    assert code == 1
    assert "templates/nl/letter.txt.j2:" in err
    assert "syntax error" in err


def test_check_finds_unknown_variable_in_a_branch_the_sample_skips(
    run_cli: Run, workspace: Workspace
) -> None:
    _edit(
        workspace,
        "en/letter.html.j2",
        "<p>Kind regards,</p>",
        '{% if kind == "never" %}{{ childs_name }}{% endif %}\n<p>Kind regards,</p>',
    )
    source = (workspace.templates_dir / "en/letter.html.j2").read_text(encoding="utf-8")
    line = source.splitlines().index('{% if kind == "never" %}{{ childs_name }}{% endif %}') + 1
    code, _, err = run_cli("template", "check")
    assert code == 1
    assert f"templates/en/letter.html.j2:{line}: unknown variable 'childs_name'" in err


def test_check_finds_a_leftover_placeholder(run_cli: Run, workspace: Workspace) -> None:
    _edit(
        workspace,
        "nl/letter.txt.j2",
        "Met vriendelijke groeten,",
        "[Namen pedagogisch professionals]\nMet vriendelijke groeten,",
    )
    code, _, err = run_cli("template", "check")
    assert code == 1
    assert "templates/nl/letter.txt.j2:" in err
    assert "placeholder [Namen pedagogisch professionals]" in err


@pytest.mark.usefixtures("english")
def test_approve_refuses_until_the_template_is_signed_off(
    run_cli: Run, workspace: Workspace, tmp_path: Path
) -> None:
    message_id = _queue_one(run_cli, tmp_path)
    code, out, err = run_cli("list")
    assert "has not been signed off by the team" in out
    code, _, err = run_cli("approve", message_id, "--by", "reviewer")
    assert code == 1
    assert "mailer template approve --by NAME" in err
    code, out, err = run_cli("template", "approve", "--by", "Anna")
    assert code == 0, err
    version = template_version(workspace.templates_dir)
    assert f"Template version {version} signed off by Anna." in out
    code, out, err = run_cli("approve", message_id, "--by", "reviewer")
    assert code == 0, err
    assert Outbox(workspace.outbox_dir).load(message_id).state == State.APPROVED


@pytest.mark.usefixtures("english")
def test_template_approve_refuses_a_broken_template(run_cli: Run, workspace: Workspace) -> None:
    _edit(workspace, "en/subject.txt.j2", "{{ child_name }}", "{{ child.name }}")
    code, _, err = run_cli("template", "approve", "--by", "Anna")
    assert code == 1
    assert "Not signed off" in err
    assert signed_versions(workspace) == frozenset()


def test_sign_off_is_stored_with_who_and_when_and_survives_a_change(workspace: Workspace) -> None:
    first = sign_off(workspace, "Anna")
    _edit(workspace, "nl/letter.txt.j2", "fijne samenwerking", "goede samenwerking")
    second = sign_off(workspace, "Fatima")
    assert first != second
    assert signed_versions(workspace) == {first, second}
    records = read_signoffs(workspace)
    assert [(item.by, item.version) for item in records] == [("Anna", first), ("Fatima", second)]
    assert records[0].at.utcoffset() is not None
    assert (workspace.config_dir / SIGNOFF_FILE).stat().st_mode & 0o077 == 0


@pytest.mark.usefixtures("english")
def test_changed_template_needs_a_new_sign_off(
    run_cli: Run, workspace: Workspace, tmp_path: Path
) -> None:
    sign_off(workspace, "Anna")
    _edit(workspace, "nl/letter.txt.j2", "fijne samenwerking", "goede samenwerking")
    message_id = _queue_one(run_cli, tmp_path)
    code, _, err = run_cli("approve", message_id, "--by", "reviewer")
    assert code == 1 and "not signed off" in err
    code, out, err = run_cli("approve", message_id, "--by", "reviewer", "--unsigned-template")
    assert code == 0, err
    assert f"approved {message_id}" in out
    assert Outbox(workspace.outbox_dir).load(message_id).approval.template_override  # type: ignore[union-attr]


def test_preview_writes_html_text_and_pdf(run_cli: Run, tmp_path: Path) -> None:
    out_dir = tmp_path / "preview"
    code, out, err = run_cli("template", "preview", "--lang", "nl", "--out", str(out_dir))
    assert code == 0, err
    html = (out_dir / "letter-nl-invitation.html").read_text(encoding="utf-8")
    text = (out_dir / "letter-nl-invitation.txt").read_text(encoding="utf-8")
    assert "Beste Sanne en Mark" in html and text.startswith("Uitnodiging kennismakingsgesprek")
    pdf = out_dir / "letter-nl-invitation.pdf"
    if pdf.exists():
        assert pdf.read_bytes().startswith(b"%PDF")
    else:
        assert "no PDF" in out


def test_preview_refuses_an_unknown_language(run_cli: Run, tmp_path: Path) -> None:
    code, _, err = run_cli("template", "preview", "--lang", "fr", "--out", str(tmp_path))
    assert code == 2
    assert "--lang fr" in err


@pytest.mark.usefixtures("english")
def test_rerender_all_pending_after_a_template_change(
    run_cli: Run, workspace: Workspace, tmp_path: Path
) -> None:
    message_id = _queue_one(run_cli, tmp_path)
    outbox = Outbox(workspace.outbox_dir)
    approve(outbox, message_id, "reviewer", ReviewPolicy())
    code, out, _ = run_cli("rerender", "--all-pending")
    assert code == 0 and f"{message_id}: unchanged" in out
    _edit(
        workspace,
        "nl/subject.txt.j2",
        "Uitnodiging kennismakingsgesprek",
        "Uitnodiging voor het kennismakingsgesprek",
    )
    code, out, err = run_cli("rerender", message_id[:4])
    assert code == 0, err
    assert "the approval is withdrawn, review the letter again" in out
    stored = outbox.load(message_id)
    assert stored.state == State.PENDING
    assert stored.subject.startswith("Uitnodiging voor het kennismakingsgesprek")


def test_cancel_of_an_unsent_message_points_to_reject(run_cli: Run, tmp_path: Path) -> None:
    message_id = _queue_one(run_cli, tmp_path)
    code, _, err = run_cli("cancel", message_id)
    assert code == 1
    assert "wijs het in plaats daarvan af" in err


@pytest.mark.parametrize("args", [("rerender",), ("rerender", "abc", "--all-pending")])
def test_rerender_needs_ids_or_all_pending(run_cli: Run, args: tuple[str, ...]) -> None:
    code, _, err = run_cli(*args)
    assert code == 2
    assert "--all-pending" in err


def test_hidden_include_is_refused_so_a_signed_version_covers_the_whole_letter(
    run_cli: Run, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")
    footer = workspace.templates_dir / "nl" / ".footer.txt"
    footer.write_text("Met vriendelijke groeten,", encoding="utf-8")
    _edit(
        workspace, "nl/letter.txt.j2", "Met vriendelijke groeten,", "{% include 'nl/.footer.txt' %}"
    )
    source = (workspace.templates_dir / "nl/letter.txt.j2").read_text(encoding="utf-8")
    line = next(
        number for number, text in enumerate(source.splitlines(), 1) if ".footer.txt" in text
    )
    code, _out, err = run_cli("template", "check")
    assert code == 1
    assert f"templates/nl/letter.txt.j2:{line}: uses nl/.footer.txt, which is not" in err
    assert "Traceback" not in err
    code, _, err = run_cli("template", "approve", "--by", "Anna")
    assert code == 1 and signed_versions(workspace) == frozenset()
    # Queueing cannot use it either, so no message carries text the sign-off did not cover.
    path = write_csv(tmp_path / "intake.csv", [intake_row()])
    code, _, err = run_cli("queue", str(path), "--by", "coach")
    assert code == 1
    assert "nl/.footer.txt" in err
    assert list(Outbox(workspace.outbox_dir).messages()) == []


def test_template_check_refuses_the_cve_2025_27516_payload_without_showing_secrets(
    run_cli: Run, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")
    monkeypatch.setenv("MAILER_SMTP_PASSWORD", "geheim-wachtwoord-42")
    payload = "{{ '{0.__init__.__globals__[os].environ}'|attr('format')(cycler) }}"
    _edit(workspace, "nl/letter.html.j2", "<p>Met vriendelijke groeten,</p>", payload)
    code, out, err = run_cli("template", "check")
    assert code == 1
    problems = [line for line in err.splitlines() if "letter.html.j2" in line]
    assert len(problems) == 1
    assert "the template reaches into the program" in problems[0]
    assert "geheim" not in out + err
    assert "Traceback" not in err


def test_endless_loop_in_a_template_is_one_line_in_check(
    run_cli: Run, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")
    loop = "{% for i in range(1000000) %}{{ i }}{% endfor %}"
    _edit(workspace, "en/letter.txt.j2", "Kind regards,", loop + "\nKind regards,")
    code, _, err = run_cli("template", "check")
    assert code == 1
    assert "templates/en/letter.txt.j2:" in err
    assert "repeats something more than 10,000 times" in err
    assert "Traceback" not in err


# The payloads: each made `template check` say "Templates are fine" while the queued
# letter loaded something from the internet or ran something. (where, payload)
REMOTE_OR_ACTIVE = [
    ("body", '<video src="https://tracker.example/v.mp4"></video>'),
    ("body", '<object data="https://tracker.example/o.swf"></object>'),
    ("body", '<embed src="https://tracker.example/e.swf">'),
    ("body", '<svg><image href="https://tracker.example/i.png"/></svg>'),
    ("body", "<p style=\"background-image: image-set('https://tracker.example/s.png' 1x)\">x</p>"),
    ("body", '<p style="background: u\\72l(https://tracker.example/u.png)">x</p>'),
    ("style", '@import/**/"https://tracker.example/i.css";'),
    ("style", ".card { background: u\\72l(https://tracker.example/c.png) }"),
    ("body", '<meta http-equiv="refresh" content="0;url=https://tracker.example/r">'),
    ("body", '<frame src="https://tracker.example/f.html">'),
    ("body", '<svg><use xlink:href="https://tracker.example/u.svg#a"/></svg>'),
    ("body", "<script>new Image().src = 'https://tracker.example/s';</script>"),
    ("body", '<img src="https://tracker.example/pixel.gif" alt="">'),
]


def _html_of(workspace: Workspace, message_id: str) -> str:
    from email import message_from_bytes, policy
    from email.message import EmailMessage

    parsed = message_from_bytes(
        Outbox(workspace.outbox_dir).read_bytes(message_id), policy=policy.SMTP
    )
    assert isinstance(parsed, EmailMessage)
    part = parsed.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


@pytest.mark.parametrize(("where", "payload"), REMOTE_OR_ACTIVE)
def test_check_reports_what_the_cleaning_removes_and_the_letter_keeps_none_of_it(
    run_cli: Run,
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    payload: str,
) -> None:
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")
    anchor = "<style>\n" if where == "style" else "<p>Met vriendelijke groeten,</p>"
    inserted = f"{anchor}{payload}\n" if where == "style" else f"{payload}\n{anchor}"
    _edit(workspace, "nl/letter.html.j2", anchor, inserted)
    source = (workspace.templates_dir / "nl/letter.html.j2").read_text(encoding="utf-8")
    line = source.splitlines().index(payload) + 1
    code, out, err = run_cli("template", "check")
    assert code == 1
    assert "Templates are fine" not in out
    assert f"templates/nl/letter.html.j2:{line}: " in err
    assert "is taken out of the letter" in err
    assert "Traceback" not in err
    html = _html_of(workspace, _queue_one(run_cli, tmp_path))
    assert "tracker.example" not in html
    assert "<script" not in html.lower()
    # The letter's own styles survive the cleaning, inline and dark mode alike.
    assert 'style="' in html and "@media (prefers-color-scheme: dark)" in html


def test_default_letter_loses_nothing_to_the_cleaning(run_cli: Run, workspace: Workspace) -> None:
    code, _out, err = run_cli("template", "check")
    assert code == 0, err
    assert "taken out" not in err
