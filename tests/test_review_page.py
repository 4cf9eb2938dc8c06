"""The review page offers only the decisions allowed now, says why the others are not, and
speaks through the language layer: over HTTP with Starlette's TestClient, against real outboxes
made by the real `mailer queue`.

The page in a real browser (layout, screenshots) is in test_review_page_browser.py.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator

import pytest
from conftest import intake_row, write_csv
from starlette.exceptions import StarletteDeprecationWarning

from mailer.config import load_settings
from mailer.letters.template_signoff import sign_off
from mailer.outbox.store import Outbox, State
from mailer.review.decisions import approve, review_policy
from mailer.web import create_app
from mailer.web.texts import plain
from mailer.workspace import Workspace

with warnings.catch_warnings():
    # Starlette 1.x asks for `httpx2` under its TestClient and warns at import when it finds
    # `httpx` (which the project's dev extras install); the client works the same with either.
    warnings.filterwarnings("ignore", "Using `httpx`", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PORT = 8766
BASE = f"http://127.0.0.1:{PORT}"
ORIGIN = {"Origin": BASE}
TOKEN = "review-page-token-0123456789"
RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def dutch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "nl")


def queue_children(workspace: Workspace, run_cli: RunCli, *names: str) -> dict[str, str]:
    """Queue one invitation per child (queued by `coach`); return child name -> message ID."""
    rows = [
        intake_row(id=f"PL-{number}", child_name=name, meeting_time=f"1{number}:00")
        for number, name in enumerate(names)
    ]
    code, _, err = run_cli(
        "queue", str(write_csv(workspace.root / "in.csv", rows)), "--by", "coach"
    )
    assert code == 0, err
    return {stored.child_name: stored.id for stored in outbox_of(workspace).messages()}


def outbox_of(workspace: Workspace) -> Outbox:
    return Outbox(workspace.outbox_dir)


def use_four_eyes(workspace: Workspace) -> None:
    settings = workspace.settings_file
    text = settings.read_text(encoding="utf-8")
    assert "four_eyes = false" in text
    settings.write_text(text.replace("four_eyes = false", "four_eyes = true"), encoding="utf-8")


@pytest.fixture
def signed_workspace(workspace: Workspace) -> Workspace:
    sign_off(workspace, "Teamleider")
    return workspace


def client_for(workspace: Workspace) -> TestClient:
    app = create_app(workspace, load_settings(workspace.root), token=TOKEN, port=PORT)
    return TestClient(app, base_url=BASE, follow_redirects=False)


@pytest.fixture
def client(signed_workspace: Workspace) -> Iterator[TestClient]:
    with client_for(signed_workspace) as test_client:
        yield test_client


def log_in(client: TestClient, name: str = "Anna") -> str:
    """Open the printed address, give a name; return the session's CSRF token."""
    assert client.get(f"/?token={TOKEN}").status_code in (200, 303)  # 303: already signed in
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/naam").text)
    assert csrf
    saved = client.post(
        "/naam", data={"csrf": csrf.group(1), "naam": name, "verder": "/"}, headers=ORIGIN
    )
    assert saved.status_code == 303
    return csrf.group(1)


def decision_of(page: str) -> str:
    """The decision section of a message page."""
    return page[page.index('id="decide"') :]


def approve_offered(page: str) -> bool:
    return "/goedkeuren" in decision_of(page)


def reject_offered(page: str) -> bool:
    return "/afwijzen" in decision_of(page)


def ticks(overview: str) -> set[str]:
    return set(re.findall(r'name="kies" value="(\w+):', overview))


def approve_in_core(workspace: Workspace, message_id: str, by: str) -> None:
    policy = review_policy(workspace, load_settings(workspace.root))
    approve(outbox_of(workspace), message_id, by, policy)


# -- one message: only what is allowed now -----------------------------------------------------


def test_pending_letter_offers_approve_and_reject_after_the_letter(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    log_in(client)
    page = client.get(f"/bericht/{ids['Zoë de Vries']}").text
    assert approve_offered(page)
    assert reject_offered(page)
    assert 'class="why-not"' not in page
    # Reading first: the letter's frame comes before the decision in the page.
    assert page.index('iframe class="letter"') < page.index('id="decide"')


def test_approved_letter_offers_no_approve_and_says_who_approved_it(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    approve_in_core(signed_workspace, ids["Zoë de Vries"], "Fatima")
    log_in(client)
    page = client.get(f"/bericht/{ids['Zoë de Vries']}").text
    assert not approve_offered(page)
    assert reject_offered(page)  # an approved letter can still be stopped
    assert "Goedkeuren is niet nodig: Fatima heeft deze versie al goedgekeurd" in page


def test_approved_letter_that_changed_is_offered_for_approval_again(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    message_id = ids["Zoë de Vries"]
    approve_in_core(signed_workspace, message_id, "Fatima")
    outbox = outbox_of(signed_workspace)
    changed = outbox.read_bytes(message_id) + b"\r\n"
    outbox.transition(message_id, State.APPROVED, by="coach", note="edited", new_bytes=changed)
    log_in(client)
    page = client.get(f"/bericht/{message_id}").text
    assert approve_offered(page)
    assert "De brief is veranderd nadat hij werd goedgekeurd" in page


def test_unsigned_template_offers_no_approve_and_names_the_missing_sign_off(
    workspace: Workspace, run_cli: RunCli
) -> None:
    ids = queue_children(workspace, run_cli, "Zoë de Vries")
    with client_for(workspace) as client:
        log_in(client)
        page = client.get(f"/bericht/{ids['Zoë de Vries']}").text
        overview = client.get("/").text
    assert not approve_offered(page)
    assert reject_offered(page)
    assert "Goedkeuren kan nog niet: sjabloonversie" in decision_of(page)
    assert ticks(overview) == set()  # nothing to tick, so no bulk button either
    assert "Gekozen brieven goedkeuren" not in overview


def test_four_eyes_hides_approve_from_whoever_queued_but_not_from_a_colleague(
    signed_workspace: Workspace, run_cli: RunCli
) -> None:
    use_four_eyes(signed_workspace)
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries", "Ümit Yılmaz")
    with client_for(signed_workspace) as client:
        log_in(client, "coach")
        own_page = client.get(f"/bericht/{ids['Zoë de Vries']}").text
        own_overview = client.get("/").text
    with client_for(signed_workspace) as client:
        log_in(client, "Anna")
        colleague_page = client.get(f"/bericht/{ids['Zoë de Vries']}").text
        colleague_overview = client.get("/").text
    assert not approve_offered(own_page)
    assert "Goedkeuren is niet aan jou" in decision_of(own_page)
    assert ticks(own_overview) == set()
    assert "vier-ogenprincipe" in own_overview  # each row says why it has no checkbox
    assert approve_offered(colleague_page)
    assert ticks(colleague_overview) == set(ids.values())


def test_failed_letter_can_only_be_rejected_and_shows_the_reply_without_markup(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    message_id = ids["Zoë de Vries"]
    approve_in_core(signed_workspace, message_id, "Fatima")
    outbox = outbox_of(signed_workspace)
    outbox.transition(message_id, State.SENDING, by="sender", note="handed over to the server")
    error = "refused by the server: 550 mailbox unavailable; run `mailer show ID`"
    outbox.transition(
        message_id,
        State.FAILED,
        by="sender",
        note="refused permanently",
        change=lambda _: {"last_error": error},
    )
    log_in(client)
    page = client.get(f"/bericht/{message_id}").text
    assert not approve_offered(page)
    assert reject_offered(page)
    assert "het verzenden van deze brief is mislukt" in decision_of(page)
    assert "Fout bij het verzenden: refused by the server: 550 mailbox unavailable" in page
    assert "“mailer show ID”" in page
    assert "`" not in page
    # The history reads in Dutch, the core's notes through the catalog.
    history = page[page.index('class="history') :]
    assert "aan de mailserver overgedragen" in history
    assert "definitief geweigerd door de mailserver" in history
    assert "klaargezet" in history
    assert "handed over" not in history


@pytest.mark.parametrize("state", [State.SENDING, State.REJECTED])
def test_closed_letters_offer_no_decision_and_say_why(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli, state: State
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    message_id = ids["Zoë de Vries"]
    approve_in_core(signed_workspace, message_id, "Fatima")
    outbox_of(signed_workspace).transition(message_id, state, by="Fatima", note="x")
    log_in(client)
    page = client.get(f"/bericht/{message_id}").text
    assert not approve_offered(page)
    assert not reject_offered(page)
    assert "valt niets" in decision_of(page)


# -- the overview ------------------------------------------------------------------------------


def test_bulk_button_sits_with_the_pending_letters_checkboxes(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë", "Ümit", "Anaïs")
    approve_in_core(signed_workspace, ids["Anaïs"], "Fatima")
    log_in(client)
    overview = client.get("/").text
    pending = overview[overview.index('data-state="pending"') :]
    pending = pending[: pending.index("</section>")]
    assert ticks(pending) == {ids["Zoë"], ids["Ümit"]}
    assert "Gekozen brieven goedkeuren" in pending
    # The button follows the last checkbox, in the same form, before any other group.
    assert pending.index('name="kies"') < pending.index("Gekozen brieven goedkeuren")
    approved = overview[overview.index('data-state="approved"') :]
    assert 'name="kies"' not in approved
    assert "Gekozen brieven goedkeuren" not in approved


@pytest.mark.parametrize(
    ("count", "expected"), [(1, "1 brief goedgekeurd."), (2, "2 brieven goedgekeurd.")]
)
def test_approving_several_says_how_many_in_proper_dutch(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli, count: int, expected: str
) -> None:
    queue_children(signed_workspace, run_cli, "Zoë", "Ümit")
    csrf = log_in(client)
    offered = re.findall(r'name="kies" value="(\w+:[0-9a-f]{64})"', client.get("/").text)
    client.post("/goedkeuren", data={"csrf": csrf, "kies": offered[:count]}, headers=ORIGIN)
    page = client.get("/").text
    assert expected in page
    assert "/" + "brieven" not in page


def test_page_speaks_english_when_the_language_is_english(
    client: TestClient,
    signed_workspace: Workspace,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "en")
    log_in(client)
    overview = client.get("/").text
    page = client.get(f"/bericht/{ids['Zoë de Vries']}").text
    assert '<html lang="en">' in overview
    assert "Waiting for review" in overview
    assert "Wacht op beoordeling" not in overview
    assert "Approve" in decision_of(page)


def test_no_page_text_holds_a_backtick(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    log_in(client)
    assert "`" not in client.get("/").text  # the empty outbox says how to queue
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    for path in ("/", f"/bericht/{ids['Zoë de Vries']}", "/naam"):
        assert "`" not in client.get(path).text, path


def test_history_of_a_replaced_approved_letter_reads_in_dutch(
    client: TestClient, signed_workspace: Workspace, run_cli: RunCli
) -> None:
    ids = queue_children(signed_workspace, run_cli, "Zoë de Vries")
    message_id = ids["Zoë de Vries"]
    approve_in_core(signed_workspace, message_id, "Fatima")
    changed = [
        intake_row(id="PL-0", child_name="Zoë de Vries", meeting_time="10:00", group="Zeepaardjes")
    ]
    code, _, err = run_cli(
        "queue", str(write_csv(signed_workspace.root / "in.csv", changed)), "--by", "coach"
    )
    assert code == 0, err
    stored = outbox_of(signed_workspace).load(message_id)
    assert stored.state == State.PENDING
    assert "withdrawn" in stored.history[-1].note  # the core's note names the approver
    log_in(client)
    page = client.get(f"/bericht/{message_id}").text
    history = page[page.index('class="history') :]
    assert "vervangen: de gegevens zijn met wijzigingen opnieuw klaargezet" in history
    assert "de goedkeuring vervalt, beoordeel de brief opnieuw" in history
    assert "withdrawn" not in history
    assert "replaced" not in history


@pytest.mark.parametrize(
    ("core_words", "shown"),
    [
        (
            "decide with `mailer resolve ID --sent` or `--resend`",
            "decide with “mailer resolve ID --sent” or “--resend”",
        ),
        ("an unpaired ` backtick", "an unpaired  backtick"),
        ("no markup at all", "no markup at all"),
    ],
)
def test_core_words_lose_their_backticks(core_words: str, shown: str) -> None:
    assert plain(core_words) == shown
