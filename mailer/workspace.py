"""Where a workspace lives and what is in it: `config/`, `templates/` and `outbox/`.

The repository's own top-level folders are the embedded default workspace; an installed package
carries a copy of its defaults under `mailer/defaults/`, from which `init_workspace` makes new ones.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mailer.errors import WorkspaceError
from mailer.i18n import _

__all__ = ["Workspace", "defaults_root", "find_workspace", "init_workspace"]

HOME_VARIABLE = "MAILER_HOME"
DEFAULT_PARTS = ("config/settings.toml", "templates", "examples")


def defaults_root() -> Path:
    """The folder holding the default config, templates and examples.

    A wheel has them in `mailer/defaults/`; an editable install or a checkout uses the repository's
    own top-level folders, which are the same files.
    """
    package_dir = Path(__file__).resolve().parent
    packaged = package_dir / "defaults"
    if (packaged / "templates").is_dir():
        return packaged
    repository = package_dir.parent
    if (repository / "templates").is_dir() and (repository / "config").is_dir():
        return repository
    raise WorkspaceError(
        _("the default templates are missing from this installation; reinstall it")
    )


@dataclass(frozen=True)
class Workspace:
    """A folder with `config/`, `templates/` and `outbox/`."""

    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.toml"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def outbox_dir(self) -> Path:
        return self.root / "outbox"

    @property
    def examples_dir(self) -> Path:
        return self.root / "examples"

    def is_complete(self) -> bool:
        return self.settings_file.is_file() and self.templates_dir.is_dir()


def find_workspace(home: Path | None = None) -> Workspace:
    """The workspace given by `home`, else `$MAILER_HOME`, else the current directory."""
    chosen = home or (Path(os.environ[HOME_VARIABLE]) if os.environ.get(HOME_VARIABLE) else None)
    workspace = Workspace((chosen or Path.cwd()).resolve())
    if not workspace.is_complete():
        raise WorkspaceError(
            _(
                "{folder} is not a mailer workspace (no config/settings.toml or templates/); "
                "create one with `mailer init FOLDER`, or point --home or MAILER_HOME at one"
            ).format(folder=workspace.root)
        )
    workspace.outbox_dir.mkdir(mode=0o700, exist_ok=True)
    return workspace


def _copy_missing(source: Path, target: Path, created: list[Path]) -> None:
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for child in sorted(source.iterdir()):
            if child.name != "__pycache__":
                _copy_missing(child, target / child.name, created)
    elif not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        created.append(target)


def init_workspace(directory: Path) -> tuple[Workspace, list[Path]]:
    """Create a workspace from the defaults, never overwriting a file; return what was created."""
    workspace = Workspace(directory.resolve())
    if workspace.root.exists() and not workspace.root.is_dir():
        raise WorkspaceError(
            _("{path} exists and is not a folder; choose another name").format(path=workspace.root)
        )
    source = defaults_root()
    created: list[Path] = []
    for part in DEFAULT_PARTS:
        _copy_missing(source / part, workspace.root / part, created)
    workspace.outbox_dir.mkdir(mode=0o700, exist_ok=True)
    workspace.outbox_dir.chmod(0o700)
    return workspace, created
