"""What the browser tests share: finding Debian's Chromium (a must in CI), how it is started here,
the `playwright` and `browser` fixtures (a pytest plugin, see conftest.py), and where screenshots
go."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

# Without the background-networking flags Chromium keeps trying to reach Google's hosts, which
# this machine's closed network refuses; as root it needs --no-sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# CHROMIUM_PATH points at another build; it also lets a test check what happens without one.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def require_chromium() -> None:
    """In CI these tests must run: a missing Chromium fails there, and is skipped elsewhere."""
    if Path(CHROMIUM).is_file():
        return
    message = (
        "Chromium is missing: install Debian's package with `make browser-deps` "
        "(apt-get install chromium); Playwright's own browser download does not work here"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    require_chromium()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()
