"""The workspace configuration as one typed model.

Sources, strongest first: values passed by the caller (CLI options), `MAILER_*` environment
variables, the workspace's `.env` file, `config/settings.toml`, and the defaults below. A value in a
TOML section is named `<section>_<key>` (`[smtp] host` is `smtp_host`, env `MAILER_SMTP_HOST`).
The SMTP password and the OAuth client secret are `SecretStr`s and may come only from the
environment or `.env`.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from email.headerregistry import Address, HeaderRegistry
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from mailer.errors import ConfigError
from mailer.i18n import LANGUAGES, _
from mailer.text_safety import check_header_safe

__all__ = [
    "PRESETS",
    "Location",
    "Provider",
    "ProviderPreset",
    "Security",
    "Settings",
    "SmtpAuth",
    "is_loopback",
    "load_settings",
    "parse_mailbox",
]

ENV_PREFIX = "MAILER_"
_HEADERS = HeaderRegistry()
SETTINGS_FILE = Path("config") / "settings.toml"
# Read only from the environment or .env, never from settings.toml (which may be shared).
SECRET_SETTINGS = frozenset(
    {"smtp_password", "smtp_oauth_client_secret", "smtp_oauth_certificate_password"}
)


class Security(StrEnum):
    """How the SMTP connection is protected."""

    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


class SmtpAuth(StrEnum):
    """How `mailer` logs in to the SMTP server."""

    PASSWORD = "password"  # noqa: S105 - the name of a method, not a password
    OAUTH2 = "oauth2"  # an access token from `mailer login` (SASL XOAUTH2)


class Provider(StrEnum):
    """A mail provider whose sign-in service `mailer login` knows; empty for any other server."""

    NONE = ""
    MICROSOFT365 = "microsoft365"
    GOOGLE = "google"


class ProviderPreset(BaseModel):
    """What `[smtp] provider` fills in when the settings leave it out: the server, and the pace
    the provider accepts from one mailbox over SMTP."""

    model_config = ConfigDict(frozen=True)
    host: str
    port: int
    security: Security
    rate_limit: float  # messages per minute
    daily_recipients: int  # recipients per 24 hours
    max_connections: int  # connections at the same time


PRESETS: dict[Provider, ProviderPreset] = {
    # Exchange Online: 30 messages a minute and 10,000 recipients a day per mailbox; a fourth
    # connection at the same time is refused with `432 4.3.2`.
    Provider.MICROSOFT365: ProviderPreset(
        host="smtp.office365.com",
        port=587,
        security=Security.STARTTLS,
        rate_limit=30,
        daily_recipients=10_000,
        max_connections=3,
    ),
    # Google Workspace: 2,000 messages a day per user; Gmail gives no per-minute figure, so a
    # pace that stays well clear of its "unusual rate" throttling.
    Provider.GOOGLE: ProviderPreset(
        host="smtp.gmail.com",
        port=587,
        security=Security.STARTTLS,
        rate_limit=20,
        daily_recipients=2_000,
        max_connections=3,
    ),
}
# The setting each part of a preset fills.
_PRESET_FIELDS = {
    "host": "smtp_host",
    "port": "smtp_port",
    "security": "smtp_security",
    "rate_limit": "rate_limit",
    "daily_recipients": "daily_recipient_limit",
    "max_connections": "smtp_max_connections",
}
# Without a provider: a server elsewhere gets Microsoft 365's pace, the most common and the
# strictest; a server on this computer (the demo's) has no limit.
DEFAULT_RATE_LIMIT = 30.0


class Location(BaseModel):
    """A childcare location as it appears in the letter and the calendar invitation."""

    model_config = ConfigDict(extra="forbid")
    address: str = ""


LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether `host` is this computer (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_mailbox(value: str) -> Address:
    """Turn `Name <address>` (or a bare address) into an `Address`, refusing anything unsafe."""
    check_header_safe(value)
    header = _HEADERS("From", value)
    addresses = header.addresses  # type: ignore[attr-defined]
    if len(addresses) != 1 or header.defects or not addresses[0].domain:
        raise ValueError(
            _("{value!r} is not one e-mail address; write it as 'Name <name@example.nl>'").format(
                value=value
            )
        )
    found: Address = addresses[0]
    return found


class Settings(BaseModel):
    """Everything a workspace can configure; see the module docstring for the source order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The language of the command line and the review page: "nl" (the default) or "en".
    ui_language: str = "nl"
    sender: str = "Kinderopvang <intake@kinderopvang.example>"
    reply_to: str = ""
    four_eyes: bool = False
    # Messages per minute for the sending mailbox, shared by every `send` using this outbox
    # (0: no limit). Left out: the provider's pace, see `_provider_presets`.
    rate_limit: float = Field(default=DEFAULT_RATE_LIMIT, ge=0)
    # Recipients per 24 hours for the sending mailbox (0: no cap).
    daily_recipient_limit: int = Field(default=0, ge=0)
    # The shared outbox of a team: postgresql://user:password@host:5432/dbname. Empty: the
    # workspace's own SQLite file. A secret when it holds a password (see `_flatten_toml`).
    database_url: SecretStr = SecretStr("")

    organisation_name: str = "Kinderopvang"
    organisation_phone: str = ""
    organisation_website: str = ""

    meeting_duration_minutes: int = Field(default=30, ge=5, le=480)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_security: Security = Security.STARTTLS
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout: float = Field(default=30, gt=0)
    smtp_ca_file: str = ""
    # `security = "none"` is refused for a host other than this computer unless this is set.
    smtp_allow_plaintext_remote: bool = False
    # Connections the server accepts at the same time from one mailbox (0: no limit); `send`
    # uses one unless told `--connections N`.
    smtp_max_connections: int = Field(default=0, ge=0, le=16)

    # OAuth 2.0 sign-in (mailer/signin/). `provider` chooses the sign-in service and makes
    # `auth = "oauth2"` the default; host, port and security are still written out.
    smtp_provider: Provider = Provider.NONE
    smtp_auth: SmtpAuth = SmtpAuth.PASSWORD
    smtp_oauth_client_id: str = ""
    # Microsoft 365: the directory (tenant) ID or domain; "organizations" lets any work account in.
    smtp_oauth_tenant_id: str = "organizations"
    # Microsoft 365 with it: the unattended sender (client credentials); Google: the desktop
    # app's client secret. Environment or .env only, like the password.
    smtp_oauth_client_secret: SecretStr = SecretStr("")
    # Microsoft 365: a PKCS#12 (.pfx) certificate instead of a secret, and its passphrase.
    smtp_oauth_certificate_file: str = ""
    smtp_oauth_certificate_password: SecretStr = SecretStr("")
    # Where the sign-in service lives (national clouds, tests); empty for the provider's own.
    smtp_oauth_authority: str = ""
    # The token cache; empty: a 0600 file in the user's configuration folder.
    smtp_oauth_cache_file: str = ""

    # A temporary refusal (4xx) is tried again after a delay that doubles each time.
    retry_max_attempts: int = Field(default=5, ge=1, le=100)
    retry_backoff_minutes: float = Field(default=10, ge=0)

    locations: dict[str, Location] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _provider_presets(cls, data: Any) -> Any:
        """Fill what the settings leave out from the provider's preset; what is given wins."""
        if not isinstance(data, Mapping):
            return data
        filled = dict(data)
        provider = filled.get("smtp_provider")
        preset = PRESETS.get(Provider(provider)) if provider in set(Provider) else None
        if preset is not None:
            # Both providers are ending password logins for SMTP.
            filled.setdefault("smtp_auth", SmtpAuth.OAUTH2)
            for name, value in preset.model_dump().items():
                filled.setdefault(_PRESET_FIELDS[name], value)
        elif "rate_limit" not in filled and is_loopback(str(filled.get("smtp_host", "127.0.0.1"))):
            filled["rate_limit"] = 0  # a local server (the demo's) has no limit
        return filled

    @field_validator("ui_language")
    @classmethod
    def _ui_language_is_known(cls, value: str) -> str:
        language = value.strip().lower()
        if language not in LANGUAGES:
            raise ValueError(
                _("{value!r} is not a language of this program; choose nl or en").format(
                    value=value
                )
            )
        return language

    @field_validator("sender")
    @classmethod
    def _sender_is_a_mailbox(cls, value: str) -> str:
        parse_mailbox(value)
        return value

    @field_validator("reply_to")
    @classmethod
    def _reply_to_is_a_mailbox(cls, value: str) -> str:
        if value:
            parse_mailbox(value)
        return value

    # Parsed once per settings object: every message being built asks for them several times.
    @cached_property
    def sender_address(self) -> Address:
        return parse_mailbox(self.sender)

    @cached_property
    def reply_to_address(self) -> Address | None:
        return parse_mailbox(self.reply_to) if self.reply_to else None

    @property
    def sender_domain(self) -> str:
        return self.sender_address.domain

    def location_address(self, location: str) -> str:
        """The address of a location, or '' when the configuration does not list it."""
        found = self.locations.get(location)
        return found.address if found else ""


def _flatten_toml(data: Mapping[str, Any], source: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key == "locations":
            flat[key] = value
        elif isinstance(value, Mapping):
            for inner, inner_value in value.items():
                flat[f"{key}_{inner}"] = inner_value
        else:
            flat[key] = value
    if "smtp_password" in flat:
        raise ConfigError(
            _(
                "{file}: the SMTP password must not be stored in settings.toml; "
                "remove it and set MAILER_SMTP_PASSWORD in the environment or in .env"
            ).format(file=source)
        )
    if urlsplit(str(flat.get("database_url", ""))).password is not None:
        raise ConfigError(
            _(
                "{file}: the database password must not be stored in settings.toml; remove "
                "[database] url and set MAILER_DATABASE_URL in the environment or in .env"
            ).format(file=source)
        )
    for secret in SECRET_SETTINGS - {"smtp_password"}:
        if secret in flat:
            raise ConfigError(
                _(
                    "{file}: {setting} is a secret and must not be stored in settings.toml; "
                    "remove it and set {variable} in the environment or in .env"
                ).format(file=source, setting=secret, variable=f"{ENV_PREFIX}{secret.upper()}")
            )
    return flat


def _from_environment(environ: Mapping[str, str | None]) -> dict[str, str]:
    known = set(Settings.model_fields) - {"locations"}
    values: dict[str, str] = {}
    for name, value in environ.items():
        if value is None or not name.startswith(ENV_PREFIX):
            continue
        field = name[len(ENV_PREFIX) :].lower()
        if field in known:
            values[field] = value
    return values


def load_settings(
    workspace_root: Path,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the configuration of the workspace at `workspace_root` in the documented order."""
    settings_path = workspace_root / SETTINGS_FILE
    try:
        with settings_path.open("rb") as handle:
            merged = _flatten_toml(tomllib.load(handle), settings_path)
    except FileNotFoundError:
        merged = {}
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            _("{file}: not valid TOML: {problem}").format(file=settings_path, problem=error)
        ) from None
    env_file = workspace_root / ".env"
    if env_file.is_file():
        merged.update(_from_environment(dotenv_values(env_file, encoding="utf-8")))
    merged.update(_from_environment(os.environ if environ is None else environ))
    merged.update(overrides or {})
    try:
        return Settings.model_validate(merged)
    except ValidationError as error:
        problems = "; ".join(
            f"{_setting_name(issue['loc'])}: {_problem_of(issue)}"
            for issue in error.errors(include_url=False, include_input=False)
        )
        # The value may come from settings.toml, .env or the environment: name all three.
        raise ConfigError(
            _("configuration ({file}, .env or MAILER_* variables): {problems}").format(
                file=settings_path.name, problems=problems
            )
        ) from None


def _problem_of(issue: Any) -> str:
    """Our own wording as it was raised (without Pydantic's "Value error, "), else Pydantic's."""
    if issue["type"] == "value_error" and "error" in issue.get("ctx", {}):
        return str(issue["ctx"]["error"])
    return str(issue["msg"])


def _setting_name(location: tuple[int | str, ...]) -> str:
    """`smtp_port (MAILER_SMTP_PORT)`: the field as written in TOML, and its variable."""
    if not location:
        return "settings"
    field = str(location[0])
    if field == "locations":
        return ".".join(str(part) for part in location)
    return f"{field} ({ENV_PREFIX}{field.upper()})"
