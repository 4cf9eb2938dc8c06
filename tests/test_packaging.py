"""An installed package (a wheel, not the checkout) carries its defaults: `mailer init` works
anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mailer.workspace import Workspace
from tests.conftest import intake_row, write_csv

REPOSITORY = Path(__file__).resolve().parent.parent


def test_wheel_installs_defaults_and_init_works_outside_the_repository(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(REPOSITORY),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("intake_mailer-*.whl")
    installed = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(installed),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    # The installed copy comes first on the path, so the checkout's files cannot stand in for it.
    environment = {**os.environ, "PYTHONPATH": str(installed), "MAILER_HOME": ""}
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import mailer, sys; print(mailer.__file__); sys.argv[0] = 'mailer'; "
            "from mailer.cli import main; sys.exit(main(['init', 'ws']))",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith(str(installed))
    for part in (
        "config/settings.toml",
        "templates/nl/letter.html.j2",
        "templates/en/letter.txt.j2",
        "examples/intakes.csv",
    ):
        assert (tmp_path / "ws" / part).is_file(), part


def test_every_public_name_of_the_package_loads_and_none_is_missing_from_the_lazy_table() -> None:
    # The names are listed twice (`__all__` for type checkers, `_PUBLIC` for loading on first
    # use): one added to only one list would be missing from `import mailer` or from `*`.
    import mailer

    assert set(mailer.__all__) == set(mailer._PUBLIC)
    for name in mailer.__all__:
        assert getattr(mailer, name).__name__ == name


def test_sending_loads_neither_the_letter_libraries_nor_the_address_validator() -> None:
    # `mailer send` starts once per run; the template engine, the calendar and date libraries
    # and email-validator (for intake records) cost a tenth of a second it does not need.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, mailer.cli, mailer.sending.run; print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "mailer.sending.run" in loaded
    unneeded = {
        "jinja2",
        "babel",
        "icalendar",
        "css_inline",
        "email_validator",
        "mailer.intake.records",
    }
    assert unneeded.isdisjoint(loaded)


WITHOUT_POSIX = """
import pkgutil, signal, sys
sys.modules["fcntl"] = None  # importing it now fails, as on Windows
del signal.SIGHUP
import mailer
for module in pkgutil.walk_packages(mailer.__path__, "mailer."):
    if ".migrations" not in module.name:
        __import__(module.name)
from mailer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_package_imports_and_works_without_posix_only_modules(
    workspace: Workspace, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "intakes.csv", [intake_row()])
    for args in (["queue", str(source), "--by", "Coach"], ["list", "--json"]):
        done = subprocess.run(
            [sys.executable, "-c", WITHOUT_POSIX, *args, "--home", str(workspace.root)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    assert [m["child_name"] for m in json.loads(done.stdout)] == ["Zoë de Vries"]
