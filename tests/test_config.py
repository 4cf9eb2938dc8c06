"""Configuration: the documented order of sources, secrets, and clear errors."""

from __future__ import annotations

import pytest

from mailer.config import Security, load_settings
from mailer.errors import ConfigError
from mailer.workspace import Workspace


def test_environment_beats_dotenv_beats_settings_toml(workspace: Workspace) -> None:
    (workspace.root / ".env").write_text(
        "MAILER_SMTP_HOST=mail.from-dotenv.example\nMAILER_SMTP_PORT=2525\n", encoding="utf-8"
    )
    settings = load_settings(workspace.root, environ={"MAILER_SMTP_PORT": "587"})
    assert settings.smtp_host == "mail.from-dotenv.example"  # .env over settings.toml
    assert settings.smtp_port == 587  # the environment over .env
    assert settings.smtp_security == Security.NONE  # settings.toml over the default
    assert load_settings(workspace.root, overrides={"smtp_port": 25}, environ={}).smtp_port == 25


def test_password_comes_only_from_the_environment_and_stays_secret(workspace: Workspace) -> None:
    settings = load_settings(workspace.root, environ={"MAILER_SMTP_PASSWORD": "hunter2-secret"})
    assert settings.smtp_password.get_secret_value() == "hunter2-secret"
    assert "hunter2-secret" not in repr(settings)
    assert "hunter2-secret" not in str(settings.model_dump())
    with workspace.settings_file.open("a", encoding="utf-8") as handle:
        handle.write("\n[smtp_extra]\n")
    text = workspace.settings_file.read_text(encoding="utf-8")
    workspace.settings_file.write_text(
        text.replace('username = ""', 'username = ""\npassword = "in-the-file"'), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"mag niet in settings\.toml staan") as caught:
        load_settings(workspace.root, environ={})
    assert "in-the-file" not in str(caught.value)


def test_a_bad_value_names_the_setting_and_its_variable(workspace: Workspace) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(workspace.root, environ={"MAILER_SMTP_PORT": "abc"})
    assert "smtp_port (MAILER_SMTP_PORT)" in str(caught.value)
    assert "settings.toml, .env of MAILER_*-variabelen" in str(caught.value)


def test_a_sender_with_a_forged_header_is_refused(workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match="sender"):
        load_settings(
            workspace.root,
            environ={"MAILER_SENDER": "=?utf-8?q?x=0D=0ABcc:_e@x.example?= <a@b.example>"},
        )
