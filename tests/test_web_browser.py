"""The review page in a real browser: headless Chromium (Debian's) driven by Playwright against
`ReviewServer` running uvicorn on 127.0.0.1 in a background thread.

A reviewer reads the overview and a letter, approves, rejects with a reason and approves a
selection; `mailer list --json` then tells the same story. Screenshots of the overview and a
message page are saved under `test-artifacts/`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from conftest import intake_row, write_csv
from playwright.sync_api import Browser, Page, expect

from mailer.config import load_settings
from mailer.letters.template_signoff import sign_off
from mailer.outbox.store import Outbox, State
from mailer.web import ReviewServer
from mailer.workspace import Workspace
from tests.browser_support import ARTIFACTS

pytestmark = pytest.mark.browser

RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def signed_workspace(workspace: Workspace) -> Workspace:
    sign_off(workspace, "Teamleider")
    return workspace


@pytest.fixture
def server(signed_workspace: Workspace) -> Iterator[ReviewServer]:
    running = ReviewServer(signed_workspace, load_settings(signed_workspace.root))
    running.start_in_thread()
    yield running
    running.stop()


@pytest.fixture
def requests_made() -> list[str]:
    return []


@pytest.fixture
def page(browser: Browser, requests_made: list[str]) -> Iterator[Page]:
    context = browser.new_context(locale="nl-NL", viewport={"width": 1200, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    opened.on("request", lambda request: requests_made.append(request.url))
    yield opened
    context.close()


def queue_children(workspace: Workspace, run_cli: RunCli, *names: str) -> dict[str, str]:
    """Queue one invitation per child (queued by `coach`); return child name -> message ID."""
    rows = [
        intake_row(id=f"PL-{number}", child_name=name, meeting_time=f"1{number}:00")
        for number, name in enumerate(names)
    ]
    path = write_csv(workspace.root / "in.csv", rows)
    code, out, err = run_cli("queue", str(path), "--by", "coach", "--json")
    assert code == 0, err
    ids = json.loads(out)["queued"]
    return dict(zip(names, ids, strict=True))


def enter(page: Page, server: ReviewServer, name: str = "Anna") -> None:
    """Open the printed address and give the reviewer's name, as a reviewer does first."""
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Wie beoordeelt er?")).to_be_visible()
    page.get_by_label("Je naam").fill(name)
    page.get_by_role("button", name="Verder").click()
    expect(page.get_by_role("heading", name="Overzicht")).to_be_visible()
    assert "token" not in page.url  # the token left the address bar


def states_in_cli(run_cli: RunCli) -> dict[str, dict[str, object]]:
    import json

    code, out, err = run_cli("list", "--json")
    assert code == 0, err
    return {item["child_name"]: item for item in json.loads(out)}


def test_reviewer_approves_and_rejects_in_the_browser_and_the_cli_agrees(
    page: Page,
    server: ReviewServer,
    signed_workspace: Workspace,
    run_cli: RunCli,
    requests_made: list[str],
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries", "Ümit Yılmaz", "Anaïs Dubois")
    enter(page, server)

    pending = page.locator("section[data-state=pending]")
    expect(pending.locator("h2")).to_contain_text("Wacht op beoordeling")
    expect(pending.locator(".badge")).to_have_text("3")
    expect(pending.locator("tbody tr")).to_have_count(3)
    expect(pending).to_contain_text("sanne@example.nl")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-overview.png"), full_page=True)

    page.get_by_role("link", name="Zoë de Vries").click()
    expect(page.locator("h1")).to_contain_text("Zoë de Vries")
    expect(page.locator("#recipients")).to_contain_text("Sanne <sanne@example.nl>")
    letter = page.frame_locator("iframe.letter").locator("body")
    expect(letter).to_contain_text("Zoë de Vries")
    expect(page.locator("#text-part")).to_contain_text("Beste Sanne en Mark")
    expect(page.locator("#calendar")).to_contain_text("Kennismakingsgesprek")
    expect(page.locator("table.history")).to_contain_text("klaargezet")
    page.screenshot(path=str(ARTIFACTS / "review-message.png"), full_page=True)

    page.get_by_role("button", name="Goedkeuren", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Goedgekeurd: de brief voor Zoë de Vries")
    expect(page.locator("#state")).to_have_text("Goedgekeurd")

    page.get_by_role("link", name="Terug naar het overzicht").click()
    page.get_by_role("link", name="Ümit Yılmaz").click()
    page.get_by_label("Reden van afwijzen (verplicht)").fill("verkeerde groep")
    page.get_by_role("button", name="Afwijzen").click()
    expect(page.get_by_role("status")).to_contain_text("Afgewezen: de brief voor Ümit Yılmaz")
    expect(page.locator("#reason")).to_have_text("verkeerde groep")

    page.get_by_role("link", name="Terug naar het overzicht").click()
    page.get_by_label("Kies Anaïs Dubois").check()
    page.get_by_role("button", name="Gekozen brieven goedkeuren").click()
    expect(page.get_by_role("status")).to_contain_text("1 brief goedgekeurd.")
    expect(page.locator("section[data-state=approved] tbody tr")).to_have_count(2)
    rejected = page.locator("section[data-state=rejected]")
    expect(rejected).to_contain_text("afgewezen door Anna: verkeerde groep")
    page.screenshot(path=str(ARTIFACTS / "review-overview-after.png"), full_page=True)

    listed = states_in_cli(run_cli)
    assert {name: item["state"] for name, item in listed.items()} == {
        "Zoë de Vries": "approved",
        "Ümit Yılmaz": "rejected",
        "Anaïs Dubois": "approved",
    }
    assert listed["Zoë de Vries"]["approved_by"] == "Anna"
    assert listed["Zoë de Vries"]["id"] == ids["Zoë de Vries"]
    assert listed["Ümit Yılmaz"]["rejection_reason"] == "verkeerde groep"
    assert listed["Ümit Yılmaz"]["rejected_by"] == "Anna"
    # Nothing on the page came from anywhere but the review server.
    assert requests_made
    assert all(url.startswith(server.base_url + "/") for url in requests_made), requests_made


def test_browser_without_the_token_is_refused(page: Page, server: ReviewServer) -> None:
    response = page.goto(server.base_url + "/")
    assert response is not None
    assert response.status == 403
    expect(page.locator("body")).to_contain_text("Geen toegang")


def test_stale_approval_is_refused_in_the_browser(
    page: Page, server: ReviewServer, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    enter(page, server)
    page.get_by_role("link", name="Zoë de Vries").click()
    expect(page.frame_locator("iframe.letter").locator("body")).to_contain_text("Zoë")
    # Someone re-renders the message while the page is open.
    outbox = Outbox(signed_workspace.outbox_dir)
    message_id = ids["Zoë de Vries"]
    changed = outbox.read_bytes(message_id) + b"\r\n"
    outbox.transition(message_id, State.PENDING, by="coach", note="re-rendered", new_bytes=changed)

    page.get_by_role("button", name="Goedkeuren", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("is veranderd nadat je hem opende")
    expect(page.locator("#state")).to_have_text("Wacht op beoordeling")
    assert states_in_cli(run_cli)["Zoë de Vries"]["state"] == "pending"


@pytest.mark.parametrize(
    ("attacker", "refusal"),
    [
        # Another site: the SameSite=Strict cookie stays home, so there is no session at all.
        ("http://evil.example", "Geen toegang"),
        # Another program on this computer: same site, so the cookie goes along; Origin differs.
        ("http://127.0.0.1:9", "kwam niet van de beoordelingspagina"),
    ],
)
def test_cross_site_form_post_is_refused_in_the_browser(
    page: Page,
    server: ReviewServer,
    signed_workspace: Workspace,
    run_cli: RunCli,
    attacker: str,
    refusal: str,
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    enter(page, server)  # the browser holds a valid session cookie
    target = f"{server.base_url}/bericht/{ids['Zoë de Vries']}/afwijzen"
    form = (
        f'<form method="post" action="{target}"><input name="reden" value="x">'
        '<input name="csrf" value="guess"><button>Win een prijs</button></form>'
    )
    # The attacker's page is served by Playwright itself: no network is needed for it.
    page.route(f"{attacker}/**", lambda route: route.fulfill(body=form, content_type="text/html"))
    page.goto(f"{attacker}/prijs")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Win een prijs").click()
    response = navigation.value
    assert response is not None
    assert response.status == 403
    expect(page.locator("body")).to_contain_text(refusal)
    assert states_in_cli(run_cli)["Zoë de Vries"]["state"] == "pending"


def _with_html_part(data: bytes, html: str) -> bytes:
    parsed = message_from_bytes(data, policy=policy.SMTP)
    assert isinstance(parsed, EmailMessage)
    part = parsed.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    part.set_content(html, subtype="html", charset="utf-8")
    return parsed.as_bytes()


class _Counting(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[str]]]:
    """A real web server standing in for a remote site; returns its address and what it got."""
    _Counting.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Counting.hits
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_letter_frame_runs_no_scripts_and_loads_nothing_remote(
    page: Page,
    server: ReviewServer,
    signed_workspace: Workspace,
    run_cli: RunCli,
    elsewhere: tuple[str, list[str]],
) -> None:
    remote, hits = elsewhere
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    outbox = Outbox(signed_workspace.outbox_dir)
    message_id = ids["Zoë de Vries"]
    hostile = (
        f"<p>Beste ouders</p><img src='{remote}/track.png' alt='x'>"
        f"<link rel='stylesheet' href='{remote}/style.css'>"
        f"<script>new Image().src = '{remote}/script-ran';</script>"
    )
    changed = _with_html_part(outbox.read_bytes(message_id), hostile)
    outbox.transition(message_id, State.PENDING, by="coach", new_bytes=changed)
    enter(page, server)
    page.get_by_role("link", name="Zoë de Vries").click()
    expect(page.frame_locator("iframe.letter").locator("body")).to_contain_text("Beste ouders")
    page.wait_for_load_state("networkidle")
    # The same request from a page without the frame's policy does reach the server.
    assert hits == []
    # The same server does answer a page without the frame's policy, so the check can fail.
    page.goto(f"{remote}/control")
    assert "/control" in hits


def test_browser_opened_through_the_private_file_gets_a_session_and_the_token_is_spent(
    browser: Browser, page: Page, server: ReviewServer, signed_workspace: Workspace
) -> None:
    opener = server.write_opener()
    try:
        assert opener.stat().st_mode & 0o777 == 0o600
        assert server.token in opener.read_text(encoding="utf-8")
        # What `mailer review` asks the browser to open: the file, never the token address.
        page.goto(opener.as_uri())
        expect(page.get_by_role("heading", name="Wie beoordeelt er?")).to_be_visible()
        assert "token" not in page.url
        page.locator("#naam").fill("Anna")
        page.get_by_role("button", name="Verder").click()
        expect(page.get_by_role("heading", name="Overzicht")).to_be_visible()
    finally:
        opener.unlink()

    # Another user on this computer who found the address (history, a screen) replays it.
    other = browser.new_context()
    try:
        replay = other.new_page()
        response = replay.goto(server.url)
        assert response is not None and response.status == 403
        expect(replay.locator("body")).to_contain_text("werkt maar één keer")
    finally:
        other.close()

    # A second review server on this computer gets the first one's cookie from the browser
    # (cookies ignore ports) and must not take it for a session of its own.
    second = ReviewServer(signed_workspace, load_settings(signed_workspace.root))
    second.start_in_thread()
    try:
        response = page.goto(second.base_url + "/")
        assert response is not None and response.status == 403
    finally:
        second.stop()
    page.goto(server.base_url + "/")
    expect(page.get_by_role("heading", name="Overzicht")).to_be_visible()
