"""Where a sign-in's tokens are kept: one file per account, readable by its owner only (0600).

The refresh token in it lets anyone who reads the file send mail as the account, so it lives in
the user's own configuration folder (not in the workspace, which a team may share) unless
`smtp_oauth_cache_file` says otherwise, and is written atomically so that a sender that reads it
while another process refreshes sees a whole file.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from mailer.config import Settings
from mailer.durable import durable_write, private_directory

__all__ = ["APP_FOLDER", "TokenCacheFile", "cache_file_for", "user_config_dir"]

APP_FOLDER = "intake-mailer"


def user_config_dir() -> Path:
    """`%APPDATA%\\intake-mailer` on Windows, `$XDG_CONFIG_HOME/intake-mailer` (or
    `~/.config/intake-mailer`) elsewhere."""
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / APP_FOLDER
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP_FOLDER


@dataclass(frozen=True)
class TokenCacheFile:
    """One account's token cache on disk."""

    path: Path

    def read(self) -> str | None:
        """The cache's text, or None when there is none (never signed in, or signed out)."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def signature(self) -> tuple[int, int] | None:
        """Changes whenever another process rewrote the file (to reload it only then)."""
        try:
            found = self.path.stat()
        except FileNotFoundError:
            return None
        return (found.st_mtime_ns, found.st_size)

    def write(self, text: str) -> None:
        private_directory(self.path.parent)
        durable_write(self.path, text.encode("utf-8"))  # created 0600, replaced atomically

    def remove(self) -> bool:
        """Delete the cache; whether there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def cache_file_for(settings: Settings) -> TokenCacheFile:
    """The cache of the account `settings` sign in as: `smtp_oauth_cache_file` when set, else a
    file in the user's configuration folder named after provider, app and mailbox (so two
    workspaces that send as different mailboxes do not share tokens)."""
    if settings.smtp_oauth_cache_file:
        return TokenCacheFile(Path(settings.smtp_oauth_cache_file).expanduser())
    identity = "\n".join(
        [
            settings.smtp_provider.value,
            settings.smtp_oauth_tenant_id,
            settings.smtp_oauth_client_id,
            settings.smtp_username.lower(),
        ]
    )
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    name = f"token-{settings.smtp_provider.value or 'oauth'}-{digest}.json"
    return TokenCacheFile(user_config_dir() / "tokens" / name)
