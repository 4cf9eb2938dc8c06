"""The letter's HTML in headless Chromium at phone and desktop widths, in light and dark mode.

Screenshots go to `test-artifacts/` (ignored by git) for a person to look at; the test itself
checks that nothing is wider than the window and that the letter's facts are on the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from mailer.config import load_settings
from mailer.letters.compose import Composer
from mailer.letters.rendering import LetterRenderer
from mailer.letters.template_review import sample_record
from mailer.workspace import Workspace
from tests.browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _html_part(workspace: Workspace, language: str) -> tuple[str, str]:
    settings = load_settings(workspace.root)
    composer = Composer(settings, LetterRenderer(workspace.templates_dir))
    record = sample_record(language, settings)
    data = composer.compose(record, "test").data
    parsed = message_from_bytes(data, policy=policy.default)
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return html, record.child_name


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("width", [375, 800])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_letter_fits_the_window_without_loading_anything(
    browser: Any, workspace: Workspace, language: str, width: int, scheme: str
) -> None:
    html, child_name = _html_part(workspace, language)
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.set_content(html, wait_until="load")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        body_text = page.inner_text("body")
        background = page.evaluate(
            "() => getComputedStyle(document.querySelector('.card')).backgroundColor"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / f"letter-{language}-{width}-{scheme}.png"), full_page=True
        )
    finally:
        page.close()
    assert overflow <= 0, f"the letter is {overflow}px wider than a {width}px window"
    assert child_name in body_text
    assert requests == [], f"the letter loaded {requests}"
    # Dark mode really changes the card: white text on white would be unreadable.
    if scheme == "dark":
        assert background != "rgb(255, 255, 255)"
    else:
        assert background == "rgb(255, 255, 255)"
