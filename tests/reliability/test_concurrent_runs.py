"""Runs at once on one home: two dates give the bytes they give one after the other, and
one date started twice releases one batch (the other run replays beside it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runs import (
    RUN_TIMEOUT,
    Snapshot,
    drop_dates,
    integrity_problems,
    run_to_end,
    small_book,
    start_run,
    temporary_files,
)

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return small_book(tmp_path_factory.mktemp("concurrent") / "book")


def _at_once(book: Path, home: Path, days) -> None:
    runs = [start_run(book, home, day) for day in days]
    codes = [run.wait(timeout=RUN_TIMEOUT) for run in runs]
    log = (home.parent / f"{home.name}.log").read_text(errors="replace")
    assert codes == [0] * len(runs), log[-3000:]
    assert integrity_problems(home) == [] and temporary_files(home) == []


def test_two_dates_at_once_equal_the_two_one_after_the_other(book, tmp_path):
    earlier, latest = drop_dates(book)[-2:]
    for day in (earlier, latest):
        run_to_end(book, tmp_path / "one_by_one", day)
    _at_once(book, tmp_path / "at_once", [earlier, latest])
    one_by_one, at_once = (Snapshot.of(tmp_path / h) for h in ("one_by_one", "at_once"))
    assert at_once.differences(one_by_one) == []


def test_a_date_started_twice_at_once_releases_one_batch(book, tmp_path):
    day = drop_dates(book)[-1]
    run_to_end(book, tmp_path / "once", day)
    _at_once(book, tmp_path / "twice", [day, day])
    once, twice = (Snapshot.of(tmp_path / h) for h in ("once", "twice"))
    assert twice.released() == once.released()
    ledger = list((tmp_path / "twice" / "ledger" / day.isoformat()).glob("*.json"))
    assert len(ledger) == 1
    folder = tmp_path / "twice" / "trades" / day.isoformat()
    assert not list(folder.glob("batch-*"))
    (replay,) = folder.glob("replay-*")
    assert json.loads((replay / "diff.json").read_text())["accounts_changed"] == []
