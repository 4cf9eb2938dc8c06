"""The review page's rules, over HTTP: the token, the session cookie, CSRF and Origin checks,
security headers, and approving and rejecting through the same outbox code as the CLI.

Starlette's TestClient speaks to the app in-process; one test runs `mailer review` as a real
subprocess and talks to it over a socket.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from conftest import intake_row, write_csv
from starlette.exceptions import StarletteDeprecationWarning

from mailer.clock import AMSTERDAM
from mailer.config import load_settings
from mailer.letters.template_signoff import sign_off
from mailer.letters.wording import format_meeting_moment
from mailer.outbox.store import Outbox, State, sha256_hex
from mailer.review.decisions import approve
from mailer.review.summary import Problem
from mailer.web import create_app
from mailer.web.app import LETTER_FRAME_CSP, MESSAGE_PAGE_CSP
from mailer.web.presenting import meeting_from_calendar
from mailer.web.security import Sessions
from mailer.web.texts import problem_in_words
from mailer.workspace import Workspace
from tests.tampering import replace_message_keeping_approval

with warnings.catch_warnings():
    # Starlette 1.x asks for `httpx2` under its TestClient and warns at import when it finds
    # `httpx` (which the project's dev extras install); the client works the same with either.
    warnings.filterwarnings("ignore", "Using `httpx`", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
ORIGIN = {"Origin": BASE}
TOKEN = "test-token-0123456789"
RunCli = Callable[..., tuple[int, str, str]]


def queue_children(workspace: Workspace, run_cli: RunCli, *names: str) -> list[str]:
    """Queue one invitation per child name (queued by `coach`); return the message IDs in order."""
    rows = [
        intake_row(id=f"PL-{number}", child_name=name, meeting_time=f"1{number}:00")
        for number, name in enumerate(names)
    ]
    code, out, err = run_cli(
        "queue", str(write_csv(workspace.root / "in.csv", rows)), "--by", "coach", "--json"
    )
    assert code == 0, err
    queued: list[str] = json.loads(out)["queued"]
    return queued


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sha_of(html: str) -> str:
    found = re.search(r'name="sha256" value="([0-9a-f]{64})"', html)
    assert found, "the page offers no approval"
    return found.group(1)


@pytest.fixture
def signed_workspace(workspace: Workspace) -> Workspace:
    sign_off(workspace, "Teamleider")
    return workspace


@pytest.fixture
def client(signed_workspace: Workspace) -> Iterator[TestClient]:
    app = create_app(signed_workspace, load_settings(signed_workspace.root), token=TOKEN, port=PORT)
    with TestClient(app, base_url=BASE, follow_redirects=False) as test_client:
        yield test_client


def log_in(client: TestClient, name: str = "Anna") -> str:
    """Open the printed address, give a name; return the session's CSRF token."""
    assert client.get(f"/?token={TOKEN}").status_code in (200, 303)  # 303: already signed in
    form = client.get("/naam")
    csrf = csrf_of(form.text)
    saved = client.post("/naam", data={"csrf": csrf, "naam": name, "verder": "/"}, headers=ORIGIN)
    assert saved.status_code == 303
    return csrf


def outbox_of(workspace: Workspace) -> Outbox:
    return Outbox(workspace.outbox_dir)


# -- the token and the session ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/naam", "/static/style.css", "/bericht/abc", "/x"])
def test_every_page_without_token_is_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 403
    assert "mailer review" in response.text


def test_wrong_token_is_refused_and_sets_no_cookie(client: TestClient) -> None:
    response = client.get("/?token=wrong")
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_token_becomes_httponly_strict_cookie_and_leaves_the_address(client: TestClient) -> None:
    response = client.get(f"/?token={TOKEN}&x=1")
    assert response.status_code == 200
    # A page that moves on by itself (a redirect would lose the Strict cookie, see security.py).
    assert '<meta http-equiv="refresh" content="0;url=/?x=1">' in response.text
    assert TOKEN not in response.text
    cookie = response.headers["set-cookie"].lower()
    assert re.match(rf"mailer_review_{PORT}_[0-9a-f]{{8}}=", cookie)
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie
    assert TOKEN not in response.headers["set-cookie"]  # the cookie holds a session, not the token
    assert client.get("/naam").status_code == 200


def test_token_works_once_so_a_replayed_address_is_refused(client: TestClient) -> None:
    assert client.get(f"/?token={TOKEN}").status_code == 200
    with TestClient(client.app, base_url=BASE, follow_redirects=False) as other_user:
        replayed = other_user.get(f"/?token={TOKEN}")
        assert replayed.status_code == 403
        assert "set-cookie" not in replayed.headers
        assert "mailer review" in replayed.text and "`" not in replayed.text
        assert other_user.get("/naam").status_code == 403
    assert client.get("/naam").status_code == 200  # the first browser keeps its session
    # ... and going back to the token address in its history just leads on to the page.
    back = client.get(f"/?token={TOKEN}&x=1")
    assert back.status_code == 303 and back.headers["location"] == "/?x=1"


def test_wrong_token_does_not_use_up_the_real_one(client: TestClient) -> None:
    assert client.get("/?token=guess").status_code == 403
    assert client.get(f"/?token={TOKEN}").status_code == 200


def test_token_is_refused_once_its_time_is_over() -> None:
    now = [1000.0]
    sessions = Sessions(TOKEN, PORT, lifetime=300, clock=lambda: now[0])
    now[0] += 301
    assert not sessions.use_token(TOKEN)
    assert not sessions.use_token(TOKEN)  # and it stays spent
    in_time = Sessions(TOKEN, PORT, lifetime=300, clock=lambda: now[0])
    now[0] += 299
    assert in_time.use_token(TOKEN)
    assert not in_time.use_token(TOKEN)


def test_late_token_is_refused_by_the_page(signed_workspace: Workspace) -> None:
    settings = load_settings(signed_workspace.root)
    app = create_app(signed_workspace, settings, token=TOKEN, port=PORT, token_lifetime=-1)
    with TestClient(app, base_url=BASE, follow_redirects=False) as late:
        response = late.get(f"/?token={TOKEN}")
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_session_cookie_is_worthless_to_another_server_on_this_computer(
    client: TestClient, signed_workspace: Workspace
) -> None:
    log_in(client)
    ours = dict(client.cookies)
    # Another review server (or a restarted one) on the same port gets the same cookies,
    # since browsers send cookies to every port of 127.0.0.1.
    other_app = create_app(
        signed_workspace, load_settings(signed_workspace.root), token="another", port=PORT
    )
    with TestClient(other_app, base_url=BASE, follow_redirects=False) as other:
        other.cookies.update(ours)
        assert other.get("/").status_code == 403
        assert other.get("/?token=another").status_code == 200
        (theirs,) = set(dict(other.cookies)) - set(ours)
    assert set(ours) != {theirs}  # each server its own cookie name: neither overwrites the other


def test_foreign_host_header_is_refused_even_with_a_session(client: TestClient) -> None:
    log_in(client)
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host.
    response = client.get("/", headers={"Host": f"evil.example:{PORT}"})
    assert response.status_code == 403


def test_name_is_asked_once_and_kept_for_the_session(client: TestClient) -> None:
    client.get(f"/?token={TOKEN}")
    first = client.get("/")
    assert first.status_code == 303
    assert first.headers["location"].startswith("/naam")
    log_in(client, "Fatima")
    overview = client.get("/")
    assert overview.status_code == 200
    assert "Fatima" in overview.text


def test_name_with_control_characters_is_refused(client: TestClient) -> None:
    client.get(f"/?token={TOKEN}")
    csrf = csrf_of(client.get("/naam").text)
    client.post("/naam", data={"csrf": csrf, "naam": "An\x1bna"}, headers=ORIGIN)
    assert client.get("/").status_code == 303  # still no name
    assert "Vul je naam in" in client.get("/naam").text


def test_next_page_after_the_name_stays_on_this_site(client: TestClient) -> None:
    client.get(f"/?token={TOKEN}")
    csrf = csrf_of(client.get("/naam").text)
    data = {"csrf": csrf, "naam": "Anna", "verder": "//evil.example/"}
    response = client.post("/naam", data=data, headers=ORIGIN)
    assert response.headers["location"] == "/"


# -- headers ---------------------------------------------------------------------------------


def test_pages_carry_security_headers_without_remote_sources(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    queue_children(signed_workspace, run_cli, "Zoë de Vries")
    log_in(client)
    for response in (client.get("/"), client.get("/static/style.css"), client.get("/nope")):
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "http" not in csp  # no remote source anywhere
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src" not in client.get("/").headers["content-security-policy"]
    # The message page runs our own frame-sizing script, and nothing inline or remote.
    (message_id,) = [m.id for m in outbox_of(signed_workspace).messages()]
    message_csp = client.get(f"/bericht/{message_id}").headers["content-security-policy"]
    assert message_csp == MESSAGE_PAGE_CSP
    assert "script-src 'self'" in message_csp
    assert "unsafe" not in message_csp


def test_letter_html_has_its_own_sandbox_policy_and_matches_the_shown_version(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    (message_id,) = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    log_in(client)
    page = client.get(f"/bericht/{message_id}").text
    shown = sha_of(page)
    assert f'src="/bericht/{message_id}/html?v={shown}"' in page
    assert 'sandbox="allow-same-origin"' in page  # no allow-scripts: the letter runs nothing
    letter = client.get(f"/bericht/{message_id}/html?v={shown}")
    assert letter.status_code == 200
    assert letter.headers["content-security-policy"] == LETTER_FRAME_CSP
    assert "script-src" not in LETTER_FRAME_CSP
    assert "allow-scripts" not in LETTER_FRAME_CSP
    assert "Zoë" in letter.text
    assert client.get(f"/bericht/{message_id}/html?v={'0' * 64}").status_code == 409


# -- cross-site requests ---------------------------------------------------------------------


def test_post_without_csrf_token_changes_nothing(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    (message_id,) = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    log_in(client)
    shown = sha_of(client.get(f"/bericht/{message_id}").text)
    response = client.post(
        f"/bericht/{message_id}/goedkeuren", data={"sha256": shown}, headers=ORIGIN
    )
    assert response.status_code == 403
    assert outbox_of(signed_workspace).load(message_id).state == State.PENDING


@pytest.mark.parametrize(
    "origin", [None, "http://evil.example", "null", f"http://127.0.0.1:{PORT + 1}"]
)
def test_cross_site_form_post_is_refused(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli, origin: str | None
) -> None:
    (message_id,) = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    csrf = log_in(client)
    shown = sha_of(client.get(f"/bericht/{message_id}").text)
    headers = {"Origin": origin} if origin else {}
    response = client.post(
        f"/bericht/{message_id}/goedkeuren",
        data={"csrf": csrf, "sha256": shown},
        headers=headers,
    )
    assert response.status_code == 403
    assert outbox_of(signed_workspace).load(message_id).state == State.PENDING


def test_state_changes_only_by_post(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    (message_id,) = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    log_in(client)
    assert client.get(f"/bericht/{message_id}/goedkeuren").status_code == 405
    assert client.get(f"/bericht/{message_id}/afwijzen?reden=x").status_code == 405
    assert outbox_of(signed_workspace).load(message_id).state == State.PENDING


# -- deciding --------------------------------------------------------------------------------


def test_approve_records_reviewer_and_the_shown_hash(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    (message_id,) = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    csrf = log_in(client, "Anna")
    shown = sha_of(client.get(f"/bericht/{message_id}").text)
    response = client.post(
        f"/bericht/{message_id}/goedkeuren", data={"csrf": csrf, "sha256": shown}, headers=ORIGIN
    )
    assert response.status_code == 303
    stored = outbox_of(signed_workspace).load(message_id)
    assert stored.state == State.APPROVED
    assert stored.approval is not None
    assert (stored.approval.by, stored.approval.sha256) == ("Anna", shown)
    assert (
        "Goedgekeurd: de brief voor Zoë de Vries" in client.get(response.headers["location"]).text
    )


def test_stale_approval_is_refused_in_dutch(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    (message_id,) = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    csrf = log_in(client)
    shown = sha_of(client.get(f"/bericht/{message_id}").text)
    outbox = outbox_of(signed_workspace)
    changed = outbox.read_bytes(message_id).replace(b"Zo", b"Zo ", 1)
    outbox.transition(message_id, State.PENDING, by="coach", note="re-rendered", new_bytes=changed)
    response = client.post(
        f"/bericht/{message_id}/goedkeuren", data={"csrf": csrf, "sha256": shown}, headers=ORIGIN
    )
    assert outbox.load(message_id).state == State.PENDING
    page = client.get(response.headers["location"]).text
    assert "is veranderd nadat je hem opende" in page


def test_four_eyes_refusal_is_explained(signed_workspace: Workspace, run_cli: RunCli) -> None:
    settings_file = signed_workspace.settings_file
    settings_file.write_text(
        settings_file.read_text(encoding="utf-8").replace("four_eyes = false", "four_eyes = true"),
        encoding="utf-8",
    )
    (message_id,) = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    app = create_app(signed_workspace, load_settings(signed_workspace.root), token=TOKEN, port=PORT)
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        csrf = log_in(client, "Coach")
        page = client.get(f"/bericht/{message_id}").text
        assert "vier-ogenprincipe" in page
        assert 'name="sha256"' not in page  # no approve form is offered
        # A form made by hand is still refused by the review rules themselves.
        shown = sha256_hex(outbox_of(signed_workspace).read_bytes(message_id))
        client.post(
            f"/bericht/{message_id}/goedkeuren",
            data={"csrf": csrf, "sha256": shown},
            headers=ORIGIN,
        )
        assert "Het vier-ogenprincipe geldt" in client.get(f"/bericht/{message_id}").text
    assert outbox_of(signed_workspace).load(message_id).state == State.PENDING


def test_unsigned_template_is_explained_and_offers_no_override(
    workspace: Workspace, run_cli: RunCli
) -> None:
    (message_id,) = queue_children(workspace, run_cli, "Zoë de Vries")
    app = create_app(workspace, load_settings(workspace.root), token=TOKEN, port=PORT)
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        csrf = log_in(client)
        page = client.get(f"/bericht/{message_id}").text
        assert "nog niet door het team vastgesteld" in page
        assert 'name="sha256"' not in page
        shown = sha256_hex(outbox_of(workspace).read_bytes(message_id))
        data = {"csrf": csrf, "sha256": shown, "override_template": "1"}
        client.post(f"/bericht/{message_id}/goedkeuren", data=data, headers=ORIGIN)
        assert "mailer template approve" in client.get(f"/bericht/{message_id}").text
    assert outbox_of(workspace).load(message_id).state == State.PENDING


def test_reject_needs_a_reason_and_keeps_it(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    (message_id,) = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    csrf = log_in(client, "Joost")
    url = f"/bericht/{message_id}/afwijzen"
    client.post(url, data={"csrf": csrf, "reden": "   "}, headers=ORIGIN)
    assert "Geef een reden op" in client.get(f"/bericht/{message_id}").text
    assert outbox_of(signed_workspace).load(message_id).state == State.PENDING
    client.post(url, data={"csrf": csrf, "reden": "verkeerde groep"}, headers=ORIGIN)
    stored = outbox_of(signed_workspace).load(message_id)
    assert stored.state == State.REJECTED
    assert stored.rejection is not None
    assert (stored.rejection.by, stored.rejection.reason) == ("Joost", "verkeerde groep")


def test_approve_selected_approves_only_the_ticked_unchanged_ones(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    first, second, third = queue_children(signed_workspace, run_cli, "Zoë", "Ümit", "Anaïs")
    csrf = log_in(client)
    overview = client.get("/").text
    ticks = dict(re.findall(r'name="kies" value="(\w+):([0-9a-f]{64})"', overview))
    assert set(ticks) == {first, second, third}
    outbox = outbox_of(signed_workspace)
    changed = outbox.read_bytes(second).replace(b"Subject:", b"Subject:", 1) + b"\r\n"
    outbox.transition(second, State.PENDING, by="coach", new_bytes=changed)
    chosen = [f"{first}:{ticks[first]}", f"{second}:{ticks[second]}"]
    response = client.post("/goedkeuren", data={"csrf": csrf, "kies": chosen}, headers=ORIGIN)
    assert response.status_code == 303
    states = {m.id: m.state for m in outbox.messages()}
    assert states == {first: State.APPROVED, second: State.PENDING, third: State.PENDING}
    page = client.get("/").text
    assert "1 brief goedgekeurd." in page
    assert "de brief voor Ümit is veranderd" in page


def test_overview_shows_a_message_changed_after_approval(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    (message_id,) = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    outbox = outbox_of(signed_workspace)
    from mailer.review.decisions import review_policy

    approve(
        outbox,
        message_id,
        "Anna",
        review_policy(signed_workspace, load_settings(signed_workspace.root)),
    )
    replace_message_keeping_approval(outbox, message_id, outbox.read_bytes(message_id) + b"\r\n")
    log_in(client)
    assert "De brief is veranderd nadat hij werd goedgekeurd" in client.get("/").text


def test_message_page_shows_subject_text_calendar_and_history(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    (message_id,) = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    log_in(client)
    page = client.get(f"/bericht/{message_id[:4]}").text  # a unique prefix is enough
    stored = outbox_of(signed_workspace).load(message_id)
    assert stored.subject.replace("'", "&#39;") in page
    assert 'id="text-part"' in page
    assert "Wacht op beoordeling" in page
    assert "coach" in page  # the history names who queued it
    calendar = page[page.index('id="calendar"') :]
    assert "geen agenda-uitnodiging" not in calendar
    assert "sanne@example.nl" in calendar  # an attendee of the invitation


def test_unknown_message_leads_back_to_the_overview(client: TestClient) -> None:
    log_in(client)
    response = client.get("/bericht/zzzzzzzz")
    assert response.status_code == 303
    assert "staat niet (meer) in de outbox" in client.get("/").text


# -- small parts -----------------------------------------------------------------------------


def test_calendar_meeting_is_read_in_words() -> None:
    ics = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//NL\r\nMETHOD:REQUEST\r\n"
        b"BEGIN:VEVENT\r\nUID:1@example\r\nDTSTAMP:20260101T000000Z\r\n"
        b"DTSTART:20270112T083000Z\r\nDTEND:20270112T090000Z\r\nSUMMARY:Kennismakingsgesprek\r\n"
        b"LOCATION:De Speeldoos\r\nORGANIZER;CN=Opvang:mailto:intake@example.nl\r\n"
        b"ATTENDEE;CN=Sanne:mailto:sanne@example.nl\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    meeting = meeting_from_calendar(ics)
    assert meeting is not None
    nine_thirty = datetime(2027, 1, 12, 9, 30, tzinfo=AMSTERDAM)  # 08:30 UTC in Amsterdam
    assert meeting["start"] == format_meeting_moment(nine_thirty, "nl")
    assert meeting["attendees"] == ["Sanne <sanne@example.nl>"]
    assert meeting["organizer"] == "Opvang <intake@example.nl>"


def test_problems_are_worded_from_their_codes_and_send_errors_keep_the_server_reply() -> None:
    reply = "550 5.1.1 User unknown"
    assert problem_in_words(Problem("send_error", {"error": reply})) == (
        f"Fout bij het verzenden: {reply}"
    )
    unsigned = problem_in_words(Problem("unsigned_template", {"version": "abc123"}))
    assert unsigned.startswith("Sjabloonversie abc123 is nog niet door het team vastgesteld")
    # The core's own words lose their markup: backticks become quotation marks.
    advice = problem_in_words(Problem("send_error", {"error": "decide with `mailer resolve`"}))
    assert advice == "Fout bij het verzenden: decide with “mailer resolve”"


# -- the command -----------------------------------------------------------------------------


def test_review_command_prints_a_token_address_on_loopback_and_stops_on_ctrl_c(
    signed_workspace: Workspace,
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailer",
            "review",
            "--no-browser",
            "--home",
            str(signed_workspace.root),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        found = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", "".join(lines))
        assert found, lines
        base, token = found.groups()
        with httpx.Client(base_url=base, follow_redirects=False) as http:
            assert http.get("/").status_code == 403
            entered = http.get(f"/?token={token}")
            assert entered.status_code == 200
            assert http.get("/naam").status_code == 200
        with httpx.Client(base_url=base, follow_redirects=False) as replay:
            assert replay.get(f"/?token={token}").status_code == 403
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "Review page stopped." in out or "Beoordelingspagina gestopt." in out
    assert token not in err  # no access log holding the token


BROWSER_STANDIN = """
import json, os, stat, sys, urllib.parse, urllib.request
from pathlib import Path

opened = sys.argv[1]
path = Path(urllib.request.url2pathname(urllib.parse.urlparse(opened).path))
record = {
    "argv": sys.argv,
    "mode": stat.S_IMODE(path.stat().st_mode),
    "page": path.read_text(encoding="utf-8"),
    "path": str(path),
}
Path(os.environ["BROWSER_RECORD"]).write_text(json.dumps(record), encoding="utf-8")
"""


def test_review_command_opens_the_browser_through_a_private_file_not_the_command_line(
    signed_workspace: Workspace, tmp_path: Path
) -> None:
    script = tmp_path / "browser.py"
    script.write_text(BROWSER_STANDIN, encoding="utf-8")
    record_file = tmp_path / "record.json"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "MAILER_UI_LANGUAGE": "en",
        # Python's webbrowser runs $BROWSER with the address: the stand-in records what a
        # browser would get, and what every user on the computer could read in `ps`.
        "BROWSER": f"{sys.executable} {script} %s",
        "BROWSER_RECORD": str(record_file),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", "review", "--home", str(signed_workspace.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "opened in your browser" in first, first
        record = json.loads(record_file.read_text(encoding="utf-8"))
        found = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=([\w-]+)", record["page"])
        assert found, record["page"]
        base, token = found.groups()
        assert token not in " ".join(record["argv"])  # the command line names only the file
        assert record["argv"][1].startswith("file://")
        assert record["mode"] == 0o600
        assert token not in first
        with httpx.Client(base_url=base, follow_redirects=False) as browser:
            assert browser.get(f"/?token={token}").status_code == 200
            assert browser.get("/naam").status_code == 200
        with httpx.Client(base_url=base, follow_redirects=False) as replay:
            assert replay.get(f"/?token={token}").status_code == 403
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert token not in out + err
    assert not Path(record["path"]).exists()  # the file is gone when the page stops


def test_review_command_refuses_a_port_in_use(signed_workspace: Workspace, run_cli: RunCli) -> None:
    from mailer.web.server import bind_loopback

    taken = bind_loopback(0)
    port = taken.getsockname()[1]
    try:
        code, _, err = run_cli("review", "--no-browser", "--port", str(port))
    finally:
        taken.close()
    assert code == 1
    assert err.strip().splitlines() == [
        f"fout: poort {port} is al in gebruik; kies een andere met --port, of laat --port weg"
    ]


def test_a_damaged_workspace_file_gives_one_clear_page_not_a_traceback(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    queue_children(signed_workspace, run_cli, "Zoë de Vries")
    log_in(client)
    (signed_workspace.config_dir / "template-signoffs.json").write_text("{", encoding="utf-8")
    response = client.get("/")
    assert response.status_code == 500
    assert "Er ging iets mis" in response.text
    assert "het bestand met de vaststellingen van de sjablonen is beschadigd" in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("typed", ["%2E%2E", "a.b", "ZZ", "x" * 40])
def test_odd_message_ids_lead_back_to_the_overview(client: TestClient, typed: str) -> None:
    log_in(client)
    response = client.get(f"/bericht/{typed}")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert "staat niet (meer) in de outbox" in client.get("/").text


@pytest.mark.parametrize(("ci", "expected"), [("true", "1 error"), ("", "1 skipped")])
def test_browser_tests_fail_in_ci_and_skip_elsewhere_without_chromium(
    tmp_path: Path, ci: str, expected: str
) -> None:
    browser_tests = Path(__file__).with_name("test_web_browser.py")
    env = {**os.environ, "CI": ci, "CHROMIUM_PATH": str(tmp_path / "no-chromium")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(browser_tests),
            "-k",
            "without_the_token",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rfEs",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parent.parent,
        timeout=120,
    )
    assert expected in result.stdout, result.stdout
    assert "Chromium is missing" in result.stdout
    assert (result.returncode == 0) == (ci != "true")
