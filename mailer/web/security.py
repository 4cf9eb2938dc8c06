"""Who may use the review page: the secret token, the session cookie, CSRF and security headers.

The page lists children's data and changes the outbox, so every request must prove it comes from
the person who started `mailer review`: the token from the address is exchanged once, within
`TOKEN_LIFETIME`, for an HttpOnly, SameSite=Strict session cookie; a replayed or late token is
refused. The cookie's name and value are new for every server, and sessions live only in its
memory, so no other review server on this computer (browsers send cookies to every port of
127.0.0.1), nor this one after a restart, takes it for a session. The Host header must name
the loopback address (DNS rebinding), and a state change needs a POST from this very origin
with the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import html
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from mailer.i18n import _
from mailer.web.texts import MESSAGES

__all__ = [
    "PAGE_CSP",
    "TOKEN_LIFETIME",
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
SAFE_METHODS = frozenset({"GET", "HEAD"})
TOKEN_PARAMETER = "token"  # noqa: S105 (the name of the query parameter, not a secret)
# Long enough to paste the printed address into a browser; a browser opened by `mailer review`
# uses it within a second.
TOKEN_LIFETIME = 300.0


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
    """The sessions of one running review page, kept in memory: a restart asks for a new token.

    The token opens one session, once, within `lifetime` seconds; after that it is spent.
    """

    def __init__(
        self,
        token: str,
        port: int,
        *,
        lifetime: float = TOKEN_LIFETIME,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token: str | None = token
        self._clock = clock
        self._expires = clock() + lifetime
        # Cookies ignore ports, so every local server sees every cookie of 127.0.0.1: a name
        # of its own keeps this server's cookie from overwriting (or being taken for) another's.
        self.cookie_name = f"mailer_review_{port}_{secrets.token_hex(4)}"
        self._by_digest: dict[str, Session] = {}

    def use_token(self, offered: str) -> bool:
        """Whether `offered` is the token, still unused and in time; it is spent either way
        once it matched."""
        token = self._token
        if token is None or not secrets.compare_digest(
            offered.encode("utf-8"), token.encode("utf-8")
        ):
            return False
        self._token = None
        return self._clock() <= self._expires

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


def _token_refused() -> str:
    return _(
        "No access: this address works only once and only for a few minutes. Stop mailer "
        "review (Ctrl+C) and start it again for a new address."
    )


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
        session = self.sessions.find(request.cookies.get(self.sessions.cookie_name))
        offered = request.query_params.get(TOKEN_PARAMETER)
        if offered is not None and request.method in SAFE_METHODS:
            if session is not None:  # back in the history of a browser that is signed in
                return RedirectResponse(_without_token(request), status_code=303)
            if not self.sessions.use_token(offered):
                return _refusal(_token_refused())
            return self._start_session(request)
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
        """Swap the token for a cookie, and take the token out of the address bar.

        The answer is a page that moves on by itself rather than a redirect: when the address
        came from the opener file, a redirect would still count as a visit from elsewhere, and
        the browser would hold back the SameSite=Strict cookie on it.
        """
        cookie, _session = self.sessions.start()
        target = html.escape(_without_token(request), quote=True)
        onwards = html.escape(_("Continue to the review page"))
        page = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0;url={target}">'
            f"<title>{onwards}</title></head>"
            f'<body><p><a href="{target}">{onwards}</a></p></body></html>\n'
        )
        response = HTMLResponse(page)
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
