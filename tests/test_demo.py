"""`mailer demo`: the whole flow on the bundled examples, to a local server, with no network."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from mailer.cli import main
from mailer.demo import DEMO_MARKER, move_meetings_forward, prepare_demo_workspace
from mailer.errors import WorkspaceError
from mailer.outbox.store import Outbox, State
from mailer.sending.local_server import read_received
from mailer.workspace import defaults_root


def test_demo_sends_every_example_to_the_local_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "demo-workspace"
    assert main(["demo", "--home", str(target)]) == 0
    out = capsys.readouterr().out
    received = read_received(target / "received")
    assert len(received) == 4
    assert {"sanne.devries@example.nl", "mark.devries@example.nl"} <= {
        address for message in received for address in message.envelope_to
    }
    assert "4 verzonden, 0 uitgesteld, 0 mislukt, 0 onbekend" in out
    assert "Beste Sanne de Vries en Mark de Vries" in out  # one letter as parents read it
    assert "wacht op beoordeling" in out  # the outbox was shown before approval
    outbox = Outbox(target / "outbox")
    assert {stored.state for stored in outbox.messages()} == {State.SENT}
    assert {stored.approval.by for stored in outbox.messages() if stored.approval} == {"demo"}
    # Run it again (with the old option name, still accepted): the earlier demo folder is
    # replaced, not added to.
    assert main(["demo", "--dir", str(target)]) == 0
    assert len(read_received(target / "received")) == 4


def test_demo_never_deletes_a_folder_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(WorkspaceError, match="niet door `mailer demo` gemaakt"):
        prepare_demo_workspace(precious)
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"
    made = prepare_demo_workspace(tmp_path / "demo")
    assert (made.root / DEMO_MARKER).is_file()


def test_meetings_move_forward_by_whole_weeks(tmp_path: Path) -> None:
    target = tmp_path / "moved.csv"
    weeks = move_meetings_forward(
        defaults_root() / "examples" / "intakes.csv", target, today=date(2027, 6, 1)
    )
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    moved = [date(*reversed([int(part) for part in row["datum"].split("-")])) for row in rows]
    assert weeks > 0
    assert min(moved) >= date(2027, 6, 8)
    # Whole weeks: every meeting keeps its weekday (12 January 2027 is a Tuesday).
    assert moved[0].weekday() == date(2027, 1, 12).weekday()
    assert rows[0]["naam_kind"] == "Zoë de Vries"


def test_meetings_far_enough_ahead_stay_as_they_are(tmp_path: Path) -> None:
    target = tmp_path / "same.csv"
    assert (
        move_meetings_forward(
            defaults_root() / "examples" / "intakes.csv", target, today=date(2026, 1, 1)
        )
        == 0
    )
    assert "12-01-2027" in target.read_text(encoding="utf-8")
