"""The review page: a Starlette app over one workspace's outbox.

Pages are rendered on the server with Jinja2; every change is a POSTed form that goes through
`mailer.web.decisions` (and so through `mailer.review.decisions`, like the CLI), followed by a
redirect that shows the outcome once. The only script is our own `letter-frame.js`, allowed on
the message page alone, which makes the letter's frame as tall as the letter.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mailer.config import Settings
from mailer.errors import MailerError, MessageNotFound
from mailer.i18n import current_language
from mailer.letters.message import letter_parts
from mailer.outbox.store import Outbox, sha256_hex
from mailer.review.decisions import ReviewPolicy, check_person_name, review_policy
from mailer.web.decisions import Outcome, approve_as_shown, reject_with_reason
from mailer.web.presenting import (
    choices_for,
    meeting_from_calendar,
    moment_short,
    overview,
    problems_in_words,
    when,
)
from mailer.web.security import (
    PAGE_CSP,
    TOKEN_LIFETIME,
    Guard,
    Session,
    Sessions,
    check_csrf,
    session_of,
)
from mailer.web.texts import (
    MESSAGES,
    approved_count,
    kind_name,
    note_in_words,
    page_words,
    plain,
    state_name,
)
from mailer.workspace import Workspace

__all__ = ["LETTER_FRAME_CSP", "MESSAGE_PAGE_CSP", "ReviewContext", "create_app"]

HERE = Path(__file__).resolve().parent
_PAGES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_PAGES.filters["short"] = moment_short
_PAGES.filters["state_name"] = state_name
_PAGES.filters["kind_name"] = kind_name
_PAGES.filters["note"] = note_in_words

# The message page runs one script of our own (nothing inline, nothing remote) to size the frame.
MESSAGE_PAGE_CSP = f"{PAGE_CSP}; script-src 'self'"
# The letter's HTML part in its frame: inline styles and data: images, and no script at all.
# The sandbox keeps the page's origin (`allow-same-origin`) only so that the page's own script
# can read the letter's height; without `allow-scripts` the letter itself can run nothing.
LETTER_FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox allow-same-origin"
)

Handler = Callable[[Request], Awaitable[Response]]
_TYPED_ID = re.compile(r"[a-z0-9]{3,32}")  # an ID or a prefix of one; nothing path-like


class ReviewContext:
    """What the routes work on: the workspace, its settings and outbox, and the sessions."""

    def __init__(self, workspace: Workspace, settings: Settings, sessions: Sessions) -> None:
        self.workspace = workspace
        self.settings = settings
        self.outbox = Outbox.of_workspace(workspace, settings)
        self.sessions = sessions

    def policy(self) -> ReviewPolicy:
        # Read for every request: a template sign-off given meanwhile counts at once.
        return review_policy(self.workspace, self.settings)


def _page(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    session = session_of(request)
    page = _PAGES.get_template(template).render(
        t=page_words(),
        lang=current_language(),
        reviewer=session.reviewer,
        csrf=session.csrf,
        notices=session.take_notices(),
        **values,
    )
    return HTMLResponse(page, status_code=status, headers=headers)


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _context(request: Request) -> ReviewContext:
    context: ReviewContext = request.app.state.review
    return context


async def _checked_form(request: Request) -> FormData | None:
    """The posted form when it carries this session's CSRF token, else None."""
    form = await request.form()
    offered = form.get("csrf")
    if not isinstance(offered, str) or not check_csrf(session_of(request), offered):
        return None
    return form


def _typed_id(request: Request) -> str:
    typed = str(request.path_params["message_id"]).lower()
    if not _TYPED_ID.fullmatch(typed):
        raise MessageNotFound(f"{typed}: no such message in the outbox")
    return typed


async def _problem_page(request: Request, error: Exception) -> Response:
    """A failure the page cannot fix by itself (a damaged file, a changed configuration), told
    in one line instead of a traceback; an unknown message leads back to the overview."""
    if isinstance(error, MessageNotFound):
        session_of(request).notify("error", MESSAGES["not_found"].format(id=_shown_id(request)))
        return _see("/")
    return _page(request, "problem.html", status=500, detail=plain(str(error)))


def _shown_id(request: Request) -> str:
    return str(request.path_params.get("message_id", ""))[:32]


def _csrf_refused() -> Response:
    return PlainTextResponse(MESSAGES["bad_csrf"], status_code=403)


def needs_reviewer(handler: Handler) -> Handler:
    """Ask the reviewer's name first (once per session): every decision is recorded under it."""

    async def wrapped(request: Request) -> Response:
        if session_of(request).reviewer is None:
            return _see(f"/naam?verder={quote(request.url.path)}")
        return await handler(request)

    return wrapped


async def name_form(request: Request) -> Response:
    return _page(request, "name.html", next=_safe_next(request.query_params.get("verder")))


def _safe_next(target: str | None) -> str:
    # Only a path on this page: never an address elsewhere (open redirect).
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


async def save_name(request: Request) -> Response:
    form = await _checked_form(request)
    if form is None:
        return _csrf_refused()
    session = session_of(request)
    try:
        session.reviewer = check_person_name(str(form.get("naam", "")), role="naam")
    except MailerError:
        session.notify("error", MESSAGES["name_invalid"])
        return _see("/naam")
    session.notify("ok", MESSAGES["name_saved"].format(name=session.reviewer))
    return _see(_safe_next(str(form.get("verder", "/"))))


@needs_reviewer
async def show_overview(request: Request) -> Response:
    context = _context(request)
    reviewer = session_of(request).reviewer
    assert reviewer is not None
    groups = await run_in_threadpool(overview, context.outbox, reviewer, context.policy())
    return _page(request, "overview.html", groups=groups)


def _message_page_values(context: ReviewContext, message_id: str, reviewer: str) -> dict[str, Any]:
    outbox = context.outbox
    stored = outbox.load(message_id)
    data = outbox.read_bytes(message_id)
    parts = letter_parts(data)
    review = context.policy()
    shown_sha256 = sha256_hex(data)
    return {
        "stored": stored,
        "parts": parts,
        "shown_sha256": shown_sha256,
        "meeting": when(stored.meeting_at),
        "calendar": meeting_from_calendar(parts.calendar) if parts.calendar else None,
        "problems": problems_in_words(stored, review),
        "choices": choices_for(stored, shown_sha256, reviewer, review),
    }


@needs_reviewer
async def show_message(request: Request) -> Response:
    context = _context(request)
    reviewer = session_of(request).reviewer
    assert reviewer is not None
    message_id = context.outbox.resolve(_typed_id(request))
    values = await run_in_threadpool(_message_page_values, context, message_id, reviewer)
    headers = {"Content-Security-Policy": MESSAGE_PAGE_CSP}
    return _page(request, "message.html", headers=headers, **values)


async def letter_html(request: Request) -> Response:
    """The HTML part exactly as stored, for the sandboxed frame, with its own strict CSP.

    The frame asks for the version the page showed (`?v=HASH`); a newer version is not shown
    under an older page, so the reviewer never approves something other than what they saw.
    """
    context = _context(request)
    try:
        data = context.outbox.read_bytes(context.outbox.resolve(_typed_id(request)))
    except MessageNotFound:
        return PlainTextResponse(MESSAGES["not_found"].format(id="?"), status_code=404)
    headers = {"Content-Security-Policy": LETTER_FRAME_CSP, "X-Frame-Options": "SAMEORIGIN"}
    if request.query_params.get("v") != sha256_hex(data):
        return PlainTextResponse(MESSAGES["html_changed"], status_code=409, headers=headers)
    letter = letter_parts(data).html or f"<p>{html.escape(page_words()['no_html'])}</p>"
    return HTMLResponse(letter, headers=headers)


def _notify(session: Session, outcome: Outcome) -> None:
    session.notify("ok" if outcome.ok else "error", outcome.text)


Decide = Callable[[ReviewContext, str, str, FormData], Outcome]


async def _decide_one(request: Request, decide: Decide) -> Response:
    """The part every decision on one message shares: CSRF check, the reviewer's name, the
    decision itself off the event loop, the outcome shown once on the message's page."""
    form = await _checked_form(request)
    if form is None:
        return _csrf_refused()
    context, session = _context(request), session_of(request)
    message_id = _typed_id(request)
    assert session.reviewer is not None
    outcome = await run_in_threadpool(decide, context, message_id, session.reviewer, form)
    _notify(session, outcome)
    return _see(f"/bericht/{quote(message_id)}")


@needs_reviewer
async def approve_one(request: Request) -> Response:
    def decide(context: ReviewContext, message_id: str, by: str, form: FormData) -> Outcome:
        shown = str(form.get("sha256", ""))
        return approve_as_shown(context.outbox, message_id, by, context.policy(), shown)

    return await _decide_one(request, decide)


@needs_reviewer
async def reject_one(request: Request) -> Response:
    def decide(context: ReviewContext, message_id: str, by: str, form: FormData) -> Outcome:
        return reject_with_reason(context.outbox, message_id, by, str(form.get("reden", "")))

    return await _decide_one(request, decide)


@needs_reviewer
async def approve_selected(request: Request) -> Response:
    """Approve every ticked message, each with the hash the overview showed for it."""
    form = await _checked_form(request)
    if form is None:
        return _csrf_refused()
    context, session = _context(request), session_of(request)
    assert session.reviewer is not None
    chosen = [str(value) for value in form.getlist("kies")]
    if not chosen:
        session.notify("error", MESSAGES["none_selected"])
        return _see("/")
    review = context.policy()
    approved = 0
    for value in chosen:
        message_id, _, shown = value.partition(":")
        outcome = await run_in_threadpool(
            approve_as_shown, context.outbox, message_id, session.reviewer, review, shown
        )
        approved += outcome.ok
        if not outcome.ok:
            _notify(session, outcome)
    if approved:
        session.notify("ok", approved_count(approved))
    return _see("/")


def create_app(
    workspace: Workspace,
    settings: Settings,
    *,
    token: str,
    port: int,
    token_lifetime: float = TOKEN_LIFETIME,
) -> Guard:
    """The review page for `workspace`, answering only on 127.0.0.1:`port` / localhost:`port`
    and only to the browser that used `token` first, within `token_lifetime` seconds."""
    sessions = Sessions(token, port, lifetime=token_lifetime)
    app = Starlette(
        routes=[
            Route("/", show_overview),
            Route("/naam", name_form),
            Route("/naam", save_name, methods=["POST"]),
            Route("/goedkeuren", approve_selected, methods=["POST"]),
            Route("/bericht/{message_id}", show_message),
            Route("/bericht/{message_id}/html", letter_html),
            Route("/bericht/{message_id}/goedkeuren", approve_one, methods=["POST"]),
            Route("/bericht/{message_id}/afwijzen", reject_one, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={MailerError: _problem_page},
    )
    app.state.review = ReviewContext(workspace, settings, sessions)
    hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})
    return Guard(app, sessions, hosts)
