"""Who may use the review page: the secret token, the session cookie, CSRF and security headers.

The page lists children's data and changes the outbox, so every request must prove it comes from
the person who started `mailer review`: the token from the printed address is exchanged once for
an HttpOnly, SameSite=Strict session cookie. The Host header must name the loopback address (DNS
rebinding), and a state change needs a POST from this very origin with the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from mailer.web.texts import MESSAGES

__all__ = [
    "FRAME_CSP",
    "PAGE_CSP",
    "Guard",
    "Session",
    "Sessions",
    "check_csrf",
    "new_token",
    "session_of",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Nothing remote, no scripts at all: the page works with plain links and forms.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# The letter's HTML part, shown in a sandboxed frame: inline styles and data: images only.
FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"
)
SAFE_METHODS = frozenset({"GET", "HEAD"})
TOKEN_PARAMETER = "token"  # noqa: S105 (the name of the query parameter, not a secret)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _digest(value: str) -> str:
    # Sessions are looked up by a hash, so a lookup's timing says nothing about the cookie.
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass
class Session:
    """One browser's session: the reviewer's name, its CSRF token and messages to show once."""

    csrf: str = field(default_factory=new_token)
    reviewer: str | None = None
    notices: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)

    def notify(self, kind: str, text: str) -> None:
        self.notices.append((kind, text))

    def take_notices(self) -> list[tuple[str, str]]:
        taken, self.notices = self.notices, []
        return taken


class Sessions:
    """The sessions of one running review page, kept in memory: a restart asks for the token."""

    def __init__(self, token: str, port: int) -> None:
        self._token = token
        self.cookie_name = f"mailer_review_{port}"  # cookies ignore ports: one name per server
        self._by_digest: dict[str, Session] = {}

    def token_is_valid(self, offered: str) -> bool:
        return secrets.compare_digest(offered.encode("utf-8"), self._token.encode("utf-8"))

    def start(self) -> tuple[str, Session]:
        cookie = new_token()
        session = Session()
        self._by_digest[_digest(cookie)] = session
        return cookie, session

    def find(self, cookie: str | None) -> Session | None:
        return self._by_digest.get(_digest(cookie)) if cookie else None


def session_of(request: Request) -> Session:
    session: Session = request.scope["mailer_session"]
    return session


def check_csrf(session: Session, offered: str) -> bool:
    return secrets.compare_digest(offered.encode("utf-8"), session.csrf.encode("utf-8"))


def _refusal(text: str) -> Response:
    return PlainTextResponse(text, status_code=403)


def _without_token(request: Request) -> str:
    query = [(k, v) for k, v in parse_qsl(request.url.query) if k != TOKEN_PARAMETER]
    return request.url.path + (f"?{urlencode(query)}" if query else "")


class Guard:
    """ASGI middleware in front of every route: host, token or session, origin, headers."""

    def __init__(self, app: ASGIApp, sessions: Sessions, allowed_hosts: frozenset[str]) -> None:
        self.app = app
        self.sessions = sessions
        self.allowed_hosts = allowed_hosts
        self.allowed_origins = frozenset(f"http://{host}" for host in allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = self._check(Request(scope), scope)
        if response is not None:
            await _with_headers(response)(scope, receive, send)
            return
        await self.app(scope, receive, _adding_headers(send))

    def _check(self, request: Request, scope: Scope) -> Response | None:
        """A response that ends the request here (refusal or redirect), or None to go on."""
        if request.headers.get("host", "") not in self.allowed_hosts:
            return _refusal(MESSAGES["bad_host"])
        offered = request.query_params.get(TOKEN_PARAMETER)
        if offered is not None and request.method in SAFE_METHODS:
            if not self.sessions.token_is_valid(offered):
                return _refusal(MESSAGES["no_token"])
            return self._start_session(request)
        session = self.sessions.find(request.cookies.get(self.sessions.cookie_name))
        if session is None:
            return _refusal(MESSAGES["no_token"])
        if request.method not in SAFE_METHODS and not self._same_origin(request):
            return _refusal(MESSAGES["bad_origin"])
        scope["mailer_session"] = session
        return None

    def _same_origin(self, request: Request) -> bool:
        # Browsers send Origin with every POST; a missing or foreign one is refused.
        return request.headers.get("origin", "") in self.allowed_origins

    def _start_session(self, request: Request) -> Response:
        """Swap the token for a cookie, and take the token out of the address bar and history."""
        cookie, _ = self.sessions.start()
        response = RedirectResponse(_without_token(request), status_code=303)
        response.set_cookie(
            self.sessions.cookie_name, cookie, httponly=True, samesite="strict", path="/"
        )
        return response


def _security_headers(headers: MutableHeaders) -> None:
    headers.setdefault("Content-Security-Policy", PAGE_CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    # `same-origin`, not `no-referrer`: under `no-referrer` Chromium sends `Origin: null` with
    # the page's own form posts, and the Origin check could not tell them from a foreign page.
    # No address of this page ever goes to another site either way.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Cache-Control", "no-store")  # children's data stays out of disk caches
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")


def _adding_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            _security_headers(MutableHeaders(scope=message))
        await send(message)

    return sending


def _with_headers(response: Response) -> Response:
    _security_headers(response.headers)
    return response
