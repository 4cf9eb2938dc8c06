"""What the browser tests share: how Debian's Chromium is started here, and where screenshots go."""

from __future__ import annotations

from pathlib import Path

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
