"""The review page's layout in a real browser (Debian's Chromium through Playwright): the letter
is read first, at its full height, then the decision; nothing scrolls sideways on a phone; light
and dark both work. Screenshots at 1366x768 and 375 px wide, light and dark, go to
`test-artifacts/` for people to look at; the assertions are what the tests check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Literal

import pytest
from conftest import intake_row, write_csv
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from mailer.config import load_settings
from mailer.letters.template_signoff import sign_off
from mailer.outbox.store import Outbox
from mailer.review.decisions import approve, review_policy
from mailer.web import ReviewServer
from mailer.workspace import Workspace
from tests.browser_support import ARTIFACTS

pytestmark = pytest.mark.browser

RunCli = Callable[..., tuple[int, str, str]]
Scheme = Literal["light", "dark"]
SIZES = {"laptop": (1366, 768), "phone": (375, 812)}
CHILDREN = ("Zoë de Vries", "Ümit Yılmaz", "Anaïs Dubois-Vandenheuvel")


@pytest.fixture(autouse=True)
def dutch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UI_LANGUAGE", "nl")


@pytest.fixture
def outbox_ids(workspace: Workspace, run_cli: RunCli) -> dict[str, str]:
    """Three pending letters queued by `coach`, the last one approved by Fatima."""
    sign_off(workspace, "Teamleider")
    rows = [
        intake_row(id=f"PL-{number}", child_name=name, meeting_time=f"1{number}:00")
        for number, name in enumerate(CHILDREN)
    ]
    intake = write_csv(workspace.root / "in.csv", rows)
    code, _, err = run_cli("queue", str(intake), "--by", "coach")
    assert code == 0, err
    outbox = Outbox(workspace.outbox_dir)
    ids = {stored.child_name: stored.id for stored in outbox.messages()}
    policy = review_policy(workspace, load_settings(workspace.root))
    approve(outbox, ids[CHILDREN[2]], "Fatima", policy)
    return ids


@pytest.fixture
def server(workspace: Workspace, outbox_ids: dict[str, str]) -> Iterator[ReviewServer]:
    running = ReviewServer(workspace, load_settings(workspace.root))
    running.start_in_thread()
    yield running
    running.stop()


def open_page(browser: Browser, server: ReviewServer, size: str, scheme: Scheme) -> Page:
    """A reviewer's browser window of `size` in `scheme`, past the name question."""
    width, height = SIZES[size]
    context = browser.new_context(
        locale="nl-NL", viewport={"width": width, "height": height}, color_scheme=scheme
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(server.url)
    page.get_by_label("Je naam").fill("Anna")
    page.get_by_role("button", name="Verder").click()
    expect(page.get_by_role("heading", name="Overzicht")).to_be_visible()
    return page


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def scrolls_sideways(page: Page) -> bool:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width > page.viewport_size["width"] if page.viewport_size else True


# Whether the letter's frame is at least as tall as the (loaded) letter inside it.
FRAME_FITS = """() => {
    const frame = document.querySelector("iframe.letter");
    const letter = frame.contentDocument && frame.contentDocument.documentElement;
    return Boolean(letter) && letter.scrollHeight > 100
        && frame.clientHeight >= letter.scrollHeight;
}"""


def assert_colours_follow(page: Page, scheme: Scheme) -> None:
    background: str = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(part) for part in background[4:-1].split(","))
    brightness = (red + green + blue) / 3
    assert (brightness < 60) if scheme == "dark" else (brightness > 200), background


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_letter_is_read_whole_before_the_decision(
    browser: Browser,
    server: ReviewServer,
    outbox_ids: dict[str, str],
    size: str,
    scheme: Scheme,
) -> None:
    page = open_page(browser, server, size, scheme)
    page.goto(f"{server.base_url}/bericht/{outbox_ids[CHILDREN[0]]}")
    letter = page.frame_locator("iframe.letter").locator("body")
    expect(letter).to_contain_text("Zoë de Vries")
    # The frame grows to the letter's height once the letter is loaded.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(FRAME_FITS, timeout=5_000)
    assert page.evaluate(FRAME_FITS), "the letter scrolls inside its frame"
    frame_box = page.locator("iframe.letter").bounding_box()
    approve_box = page.get_by_role("button", name="Goedkeuren", exact=True).bounding_box()
    reject_box = page.get_by_role("button", name="Afwijzen", exact=True).bounding_box()
    assert frame_box and approve_box and reject_box
    assert frame_box["y"] + frame_box["height"] <= approve_box["y"]
    assert frame_box["y"] + frame_box["height"] <= reject_box["y"]
    # The letter starts on the first screen: reading comes before anything else.
    assert frame_box["y"] < SIZES[size][1]
    assert not scrolls_sideways(page)
    assert "`" not in page.locator("body").inner_text()
    assert_colours_follow(page, scheme)
    screenshot(page, f"review-message-{size}-{scheme}")
    page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_overview_keeps_the_bulk_button_with_its_checkboxes(
    browser: Browser,
    server: ReviewServer,
    outbox_ids: dict[str, str],
    size: str,
    scheme: Scheme,
) -> None:
    page = open_page(browser, server, size, scheme)
    pending = page.locator("section[data-state=pending]")
    boxes = pending.get_by_role("checkbox")
    expect(boxes).to_have_count(2)
    button = pending.get_by_role("button", name="Gekozen brieven goedkeuren")
    expect(button).to_be_visible()
    last_box = boxes.last.bounding_box()
    button_box = button.bounding_box()
    approved_box = page.locator("section[data-state=approved]").bounding_box()
    assert last_box and button_box and approved_box
    # Right under the last checkbox, and before the next group starts.
    assert last_box["y"] < button_box["y"] < approved_box["y"]
    expect(page.locator("section[data-state=approved]").get_by_role("checkbox")).to_have_count(0)
    assert not scrolls_sideways(page)
    assert "`" not in page.locator("body").inner_text()
    assert_colours_follow(page, scheme)
    screenshot(page, f"review-overview-{size}-{scheme}")
    page.context.close()


def test_approved_letter_shows_no_approve_button_in_the_browser(
    browser: Browser, server: ReviewServer, outbox_ids: dict[str, str]
) -> None:
    page = open_page(browser, server, "laptop", "light")
    page.get_by_role("link", name=CHILDREN[2]).click()
    expect(page.locator("#state")).to_have_text("Goedgekeurd")
    expect(page.get_by_role("button", name="Goedkeuren", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Afwijzen", exact=True)).to_be_visible()
    expect(page.locator(".why-not")).to_contain_text("Fatima heeft deze versie al goedgekeurd")
    screenshot(page, "review-message-approved")
    page.context.close()


def test_approving_from_the_page_withdraws_the_button(
    browser: Browser, server: ReviewServer, outbox_ids: dict[str, str]
) -> None:
    page = open_page(browser, server, "laptop", "light")
    page.get_by_role("link", name=CHILDREN[0]).click()
    page.get_by_role("button", name="Goedkeuren", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Goedgekeurd: de brief voor Zoë de Vries")
    expect(page.get_by_role("button", name="Goedkeuren", exact=True)).to_have_count(0)
    page.get_by_role("link", name="Terug naar het overzicht").click()
    page.get_by_label(f"Kies {CHILDREN[1]}").check()
    page.get_by_role("button", name="Gekozen brieven goedkeuren").click()
    expect(page.get_by_role("status")).to_have_text("1 brief goedgekeurd.")
    expect(page.locator("section[data-state=approved] tbody tr")).to_have_count(3)
    page.context.close()
