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


def test_approve_refuses_until_the_template_is_signed_off(
    run_cli: Run, workspace: Workspace, tmp_path: Path
) -> None:
    message_id = _queue_one(run_cli, tmp_path)
    code, out, err = run_cli("list")
    assert "has no team sign-off" in out
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
    assert "approval by reviewer is withdrawn" in out
    stored = outbox.load(message_id)
    assert stored.state == State.PENDING
    assert stored.subject.startswith("Uitnodiging voor het kennismakingsgesprek")


def test_cancel_of_an_unsent_message_points_to_reject(run_cli: Run, tmp_path: Path) -> None:
    message_id = _queue_one(run_cli, tmp_path)
    code, _, err = run_cli("cancel", message_id)
    assert code == 1
    assert "reject it instead" in err


@pytest.mark.parametrize("args", [("rerender",), ("rerender", "abc", "--all-pending")])
def test_rerender_needs_ids_or_all_pending(run_cli: Run, args: tuple[str, ...]) -> None:
    code, _, err = run_cli(*args)
    assert code == 2
    assert "--all-pending" in err
