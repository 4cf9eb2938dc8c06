"""The template folder read once: the exact files a letter may be rendered from, and their version.

The version a team signs off is a hash over these files, and the template loader serves only
these files (as they were read), so a letter can never use a file the signed version does not
cover: not a hidden file, not the folder's README, not one changed after the hash was taken.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TemplateFiles", "is_template_file"]


def is_template_file(relative: str) -> bool:
    """Whether a path (relative to the templates folder, with `/`) belongs to the letter.

    The folder's README (instructions for staff) and hidden files (editor backups, `.DS_Store`)
    are left out of the version; the loader refuses them, so leaving them out changes nothing.
    """
    return relative != "README.md" and not any(part.startswith(".") for part in relative.split("/"))


@dataclass(frozen=True)
class TemplateFiles:
    """The letter's files, as bytes by relative name, and the short hash that names them."""

    files: dict[str, bytes]
    version: str

    @classmethod
    def read(cls, templates_dir: Path) -> TemplateFiles:
        """Every regular file of the letter under `templates_dir`, read now."""
        files: dict[str, bytes] = {}
        if templates_dir.is_dir():
            # rglob does not descend into linked folders; anything it does not list is refused.
            for path in sorted(templates_dir.rglob("*")):
                relative = path.relative_to(templates_dir).as_posix()
                if path.is_file() and is_template_file(relative):
                    files[relative] = path.read_bytes()
        digest = hashlib.sha256()
        for relative, data in files.items():
            digest.update(relative.encode("utf-8") + b"\x00")
            digest.update(data + b"\x00")
        return cls(files=files, version=digest.hexdigest()[:16])

    def text(self, name: str) -> str | None:
        """The file `name` as UTF-8 text, or None when it is not part of the letter."""
        data = self.files.get(name)
        return None if data is None else data.decode("utf-8")
