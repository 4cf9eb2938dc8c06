"""Configuration: the documented order of sources, secrets, and clear errors."""

from __future__ import annotations

import pytest

from mailer.config import Security, Settings, load_settings
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


def test_a_provider_preset_fills_the_server_and_its_pace(workspace: Workspace) -> None:
    settings = load_settings(workspace.root, environ={"MAILER_SMTP_PROVIDER": "microsoft365"})
    # settings.toml of a new workspace names the demo's server: written out, it wins.
    assert settings.smtp_host == "127.0.0.1"
    preset = Settings(smtp_provider="microsoft365")
    assert (preset.smtp_host, preset.smtp_port, preset.smtp_security) == (
        "smtp.office365.com",
        587,
        Security.STARTTLS,
    )
    assert (preset.rate_limit, preset.daily_recipient_limit, preset.smtp_max_connections) == (
        30,
        10_000,
        3,
    )
    google = Settings(smtp_provider="google")
    assert google.smtp_host == "smtp.gmail.com" and google.daily_recipient_limit == 2_000


def test_explicit_settings_win_over_the_preset() -> None:
    settings = Settings(smtp_provider="microsoft365", rate_limit=10, smtp_max_connections=1)
    assert (settings.rate_limit, settings.smtp_max_connections) == (10, 1)
    assert settings.daily_recipient_limit == 10_000


def test_a_server_elsewhere_gets_a_safe_pace_and_the_local_one_none() -> None:
    assert Settings(smtp_host="mail.speeldoos.example").rate_limit == 30
    assert Settings(smtp_host="127.0.0.1").rate_limit == 0
    assert Settings(smtp_host="localhost", rate_limit=5).rate_limit == 5


def test_the_new_workspace_settings_send_one_connection_without_limit(
    workspace: Workspace,
) -> None:
    settings = load_settings(workspace.root, environ={})
    assert settings.smtp_max_connections == 0 and settings.rate_limit == 0
