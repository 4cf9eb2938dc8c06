"""A local OAuth 2.0 sign-in service on 127.0.0.1 (HTTPS, trustme certificate) that answers as
Microsoft's identity platform and Google's do, for the sign-in tests.

Microsoft (under `/{tenant}/`): the OpenID discovery document MSAL reads, the device-authorization
endpoint, and the token endpoint for the device-code, refresh-token and client-credentials grants.
Google: the consent page (which redirects the "browser" straight back with a code, as after a
click on Allow) and the token endpoint for the authorization-code and refresh-token grants.
Every access token it issues goes into a `TokenBook` that the XOAUTH2 SMTP server checks.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import pytest
from pydantic import SecretStr

from mailer.config import Settings
from mailer.sending.local_server import free_port
from tests.smtp_servers import Certificates, TokenBook, make_certificates

TENANT = "speeldoos-tenant-id"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
APP_SECRET = "app-secret-from-entra"  # the unattended sender's client secret
GOOGLE_CLIENT_ID = "1234-abc.apps.googleusercontent.com"
GOOGLE_SECRET = "GOCSPX-desktop-secret"
MAILBOX = "intake@speeldoos.example"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Microsoft's own answer while the person has not finished signing in yet.
PENDING = {
    "error": "authorization_pending",
    "error_description": "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. "
    "Continue polling.\r\nTrace ID: 0000\r\nCorrelation ID: 0000\r\nTimestamp: 2026-12-01",
    "error_codes": [70016],
}
REVOKED = {
    "error": "invalid_grant",
    "error_description": "AADSTS50173: The provided grant has expired due to it being revoked, "
    "a fresh auth token is needed.\r\nTrace ID: 0000\r\nCorrelation ID: 0000",
    "error_codes": [50173],
    "suberror": "bad_token",
}
GOOGLE_REVOKED = {
    "error": "invalid_grant",
    "error_description": "Token has been expired or revoked.",
}


@dataclass
class Call:
    """One request the service received: its path and form fields."""

    method: str
    path: str
    form: dict[str, str]


@dataclass
class OAuthService:
    """What the service knows and does; tests change its knobs and read `calls`."""

    base: str = ""
    book: TokenBook = field(default_factory=TokenBook)
    pending_polls: int = 1  # answer authorization_pending this many times, then the tokens
    signed_in_as: str = MAILBOX  # who the person at the keyboard signs in as
    access_lifetime: int = 3600  # expires_in of issued access tokens (MSAL refreshes < 300)
    revoked: set[str] = field(default_factory=set)  # refresh tokens that are no longer good
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> user
    codes: dict[str, str] = field(default_factory=dict)  # Google authorization code -> user
    calls: list[Call] = field(default_factory=list)
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def grants(self, grant_type: str) -> list[Call]:
        return [c for c in self.calls if c.form.get("grant_type") == grant_type]

    def revoke_all(self) -> None:
        self.revoked.update(self.refresh_tokens)

    # --- token responses -------------------------------------------------------------------

    def _new_tokens(self, user: str, *, refresh: bool) -> tuple[str, str]:
        with self.lock:
            self.issued += 1
            number = self.issued
        access = f"at-{number}"
        self.book.valid[access] = user
        refresh_token = ""
        if refresh:
            refresh_token = f"rt-{number}"
            self.refresh_tokens[refresh_token] = user
        return access, refresh_token

    def microsoft_tokens(self, user: str, *, refresh: bool = True) -> dict[str, Any]:
        access, refresh_token = self._new_tokens(user, refresh=refresh)
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            # Delegated: the permission granted; app-only: the `.default` scope asked for.
            "scope": "https://outlook.office.com/SMTP.Send"
            if refresh
            else "https://outlook.office365.com/.default",
            "expires_in": self.access_lifetime,
            "ext_expires_in": self.access_lifetime,
            "access_token": access,
        }
        if refresh:
            claims = {
                "aud": CLIENT_ID,
                "iss": f"{self.base}/{TENANT}/v2.0",
                "tid": TENANT,
                "oid": "user-object-id",
                "sub": "subject",
                "preferred_username": user,
                "name": "Intake Speeldoos",
                "ver": "2.0",
            }
            answer["refresh_token"] = refresh_token
            answer["id_token"] = ".".join(
                [_b64url({"alg": "none", "typ": "JWT"}), _b64url(claims), ""]
            )
            answer["client_info"] = _b64url({"uid": "user-object-id", "utid": TENANT})
        return answer

    def google_tokens(self, user: str, *, refresh: bool) -> dict[str, Any]:
        access, refresh_token = self._new_tokens(user, refresh=refresh)
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.access_lifetime,
            "scope": "https://mail.google.com/",
            "token_type": "Bearer",
        }
        if refresh:
            answer["refresh_token"] = refresh_token
        return answer


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        return {key: values[0] for key, values in parse_qs(raw).items()}

    def do_GET(self) -> None:
        service = self.server.service
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        service.calls.append(Call("GET", parts.path, query))
        if parts.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            root = f"{service.base}/{TENANT}"
            self._reply(
                200,
                {
                    "issuer": f"{root}/v2.0",
                    "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{root}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                    "jwks_uri": f"{root}/discovery/v2.0/keys",
                    "response_types_supported": ["code", "id_token", "code id_token"],
                    "scopes_supported": ["openid", "profile", "email", "offline_access"],
                },
            )
        elif parts.path == "/o/oauth2/auth":
            self._consent(query)
        else:
            self._reply(404, {"error": "not_found"})

    def _consent(self, query: dict[str, str]) -> None:
        """Google's consent page after the person clicked Allow: back to the app with a code."""
        service = self.server.service
        redirect = query.get("redirect_uri", "")
        if query.get("client_id") != GOOGLE_CLIENT_ID or not redirect.startswith(
            "http://127.0.0.1:"
        ):
            self._reply(400, {"error": "redirect_uri_mismatch"})
            return
        code = f"gcode-{len(service.codes) + 1}"
        service.codes[code] = service.signed_in_as
        location = f"{redirect}?{urlencode({'state': query.get('state', ''), 'code': code})}"
        self.send_response(302)
        self.send_header("Location", f"{location}&scope=https://mail.google.com/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        service = self.server.service
        form = self._form()
        service.calls.append(Call("POST", self.path, form))
        if self.path == f"/{TENANT}/oauth2/v2.0/devicecode":
            if form.get("client_id") != CLIENT_ID:
                self._reply(
                    400,
                    {
                        "error": "unauthorized_client",
                        "error_description": "AADSTS700016: Application not found.",
                    },
                )
                return
            self._reply(
                200,
                {
                    "user_code": "KDV-4242",
                    "device_code": "device-code-1",
                    "verification_uri": "https://microsoft.com/devicelogin",
                    "expires_in": 900,
                    # Microsoft says 5 seconds; 0 lets MSAL poll again at once in a test.
                    "interval": 0,
                    "message": "To sign in, use a web browser to open the page "
                    "https://microsoft.com/devicelogin and enter the code KDV-4242.",
                },
            )
        elif self.path == f"/{TENANT}/oauth2/v2.0/token":
            self._microsoft_token(form)
        elif self.path == "/token":
            self._google_token(form)
        else:
            self._reply(404, {"error": "not_found"})

    def _microsoft_token(self, form: dict[str, str]) -> None:
        service = self.server.service
        grant = form.get("grant_type")
        if grant == DEVICE_CODE_GRANT:
            if service.pending_polls > 0:
                service.pending_polls -= 1
                self._reply(400, PENDING)
                return
            self._reply(200, service.microsoft_tokens(service.signed_in_as))
        elif grant == "refresh_token":
            token = form.get("refresh_token", "")
            if token in service.revoked or token not in service.refresh_tokens:
                self._reply(400, REVOKED)
                return
            self._reply(200, service.microsoft_tokens(service.refresh_tokens[token]))
        elif grant == "client_credentials":
            if form.get("client_secret") != APP_SECRET or form.get("client_id") != CLIENT_ID:
                self._reply(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided."
                        "\r\nTrace ID: 0000",
                    },
                )
                return
            self._reply(200, service.microsoft_tokens(MAILBOX, refresh=False))
        else:
            self._reply(400, {"error": "unsupported_grant_type"})

    def _google_token(self, form: dict[str, str]) -> None:
        service = self.server.service
        # Google takes the client's credentials in the form or as HTTP Basic authentication
        # (requests-oauthlib sends the latter when exchanging the code).
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", unquote_plus(client_id))
            form.setdefault("client_secret", unquote_plus(secret))
        if form.get("client_id") != GOOGLE_CLIENT_ID or form.get("client_secret") != GOOGLE_SECRET:
            self._reply(401, {"error": "invalid_client", "error_description": "Unauthorized"})
            return
        grant = form.get("grant_type")
        if grant == "authorization_code" and form.get("code") in service.codes:
            user = service.codes.pop(form["code"])
            self._reply(200, service.google_tokens(user, refresh=True))
        elif grant == "refresh_token":
            token = form.get("refresh_token", "")
            if token in service.revoked or token not in service.refresh_tokens:
                self._reply(400, GOOGLE_REVOKED)
                return
            # Google keeps the refresh token and sends a new access token only.
            self._reply(200, service.google_tokens(service.refresh_tokens[token], refresh=False))
        else:
            self._reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})


class _Server(ThreadingHTTPServer):
    service: OAuthService
    daemon_threads = True


@contextmanager
def oauth_service(
    certificates: Certificates, book: TokenBook | None = None
) -> Iterator[OAuthService]:
    """A running HTTPS sign-in service on 127.0.0.1; its base URL is `service.base`."""
    port = free_port()
    server = _Server(("127.0.0.1", port), _Handler)
    context: ssl.SSLContext = certificates.server_context()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.service = OAuthService(base=f"https://127.0.0.1:{port}", book=book or TokenBook())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.service
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def microsoft_env(service: OAuthService, cache_file: Path, **extra: str) -> dict[str, str]:
    """The MAILER_* variables of a workspace that signs in to `service` as Microsoft 365."""
    values = {
        "MAILER_SMTP_PROVIDER": "microsoft365",
        "MAILER_SMTP_USERNAME": MAILBOX,
        "MAILER_SMTP_OAUTH_CLIENT_ID": CLIENT_ID,
        "MAILER_SMTP_OAUTH_TENANT_ID": TENANT,
        "MAILER_SMTP_OAUTH_AUTHORITY": service.base,
        "MAILER_SMTP_OAUTH_CACHE_FILE": str(cache_file),
    }
    values.update(extra)
    return values


def microsoft_settings(service: OAuthService, cache_file: Path, **values: Any) -> Settings:
    """Settings that sign in to `service` as Microsoft 365 (SMTP host and port left default)."""
    fields: dict[str, Any] = {
        name.removeprefix("MAILER_").lower(): value
        for name, value in microsoft_env(service, cache_file).items()
    }
    fields.update(values)
    return Settings(**fields)


def google_settings(service: OAuthService, cache_file: Path, **values: Any) -> Settings:
    fields: dict[str, Any] = {
        "smtp_provider": "google",
        "smtp_username": MAILBOX,
        "smtp_oauth_client_id": GOOGLE_CLIENT_ID,
        "smtp_oauth_client_secret": SecretStr(GOOGLE_SECRET),
        "smtp_oauth_authority": service.base,
        "smtp_oauth_cache_file": str(cache_file),
    }
    fields.update(values)
    return Settings(**fields)


def trust_local_service(monkeypatch: pytest.MonkeyPatch, certificates: Certificates) -> None:
    """Make `requests` (under MSAL and google-auth) trust the test CA, as an organisation that
    inspects TLS does with REQUESTS_CA_BUNDLE, and never go through a proxy for 127.0.0.1."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates.ca_file))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# Fixtures for the sign-in tests (registered by `tests/conftest.py`).


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A CA and a certificate for 127.0.0.1, for the SMTP and the sign-in servers alike."""
    return make_certificates(tmp_path)


@pytest.fixture
def service(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> Iterator[OAuthService]:
    """A running sign-in service that the OAuth libraries trust."""
    trust_local_service(monkeypatch, certificates)
    with oauth_service(certificates) as running:
        yield running
