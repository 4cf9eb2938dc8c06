"""Outcomes go to the outbox in batches; at the end of a run they go without waiting."""

from __future__ import annotations

import asyncio

import pytest

from mailer.outcome_recorder import OutcomeRecorder
from mailer.sending.delivery import Outcome, TransactionResult
from mailer.sending.plan import SendReport
from tests.counting_writer import CountingWriter

SENT = TransactionResult(Outcome.SENT, "250 OK")


@pytest.fixture(autouse=True)
def patient_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # A batch that is not full would wait an hour: only `hurry` or `drain` can commit it.
    monkeypatch.setattr("mailer.outcome_recorder._MAX_DELAY", 3600)


def test_after_hurry_an_outcome_is_committed_without_waiting_for_a_fuller_batch() -> None:
    async def scenario() -> tuple[list[int], SendReport]:
        writer = CountingWriter()
        report = SendReport()
        recorder = OutcomeRecorder(writer, report, lambda _: None)
        recorder.hurry()
        recorder.record("m1", SENT)
        while not writer.commits:
            await asyncio.sleep(0)
        return writer.commits, report

    commits, report = asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert commits == [1]
    assert report.ids(Outcome.SENT) == ["m1"]


def test_before_hurry_outcomes_wait_to_fill_a_batch() -> None:
    async def scenario() -> list[int]:
        writer = CountingWriter()
        recorder = OutcomeRecorder(writer, SendReport(), lambda _: None)
        for number in range(3):
            recorder.record(f"m{number}", SENT)
        for _ in range(100):
            await asyncio.sleep(0)
        waited = list(writer.commits)
        await recorder.drain()
        return [*waited, *writer.commits]

    assert asyncio.run(scenario()) == [3]
