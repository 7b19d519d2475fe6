"""SIGKILL ``rebalance run`` at deterministic points and at seeded random moments, then
re-run the date: nothing partial or corrupt is ever visible, and the re-run's outputs are
byte-identical to an uninterrupted run's.

The release commits with its ledger entry. Killed before it, the re-run releases and
must equal one uninterrupted run; killed after it, the date is released and the re-run is
a replay beside it, so it must equal an uninterrupted run followed by a re-run (and the
released batch must equal the uninterrupted run's either way).

``make test-reliability`` runs it; RELIABILITY_RANDOM_KILLS sets the number of random
kills (default 4) and RELIABILITY_SEED their seed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import shutil
import time
from pathlib import Path

import pytest
from runs import (
    Snapshot,
    drop_dates,
    integrity_problems,
    kill_after,
    kill_when,
    released_rows,
    run_to_end,
    small_book,
    start_run,
    temporary_files,
)

pytestmark = pytest.mark.reliability

RANDOM_KILLS = int(os.environ.get("RELIABILITY_RANDOM_KILLS", "4"))
SEED = int(os.environ.get("RELIABILITY_SEED", "13"))


@dataclasses.dataclass(frozen=True)
class Reference:
    book: Path
    day: dt.date
    once: Snapshot  # one uninterrupted run
    twice: Snapshot  # an uninterrupted run, then a re-run of the date
    rows: set[tuple[str, ...]]
    seconds: float


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Reference:
    base = tmp_path_factory.mktemp("kills")
    book = small_book(base / "book")
    day = drop_dates(book)[-1]
    home = base / "reference"
    started = time.monotonic()
    run_to_end(book, home, day)
    seconds = time.monotonic() - started
    once = Snapshot.of(home)
    rows = released_rows(home, day)
    assert rows, "the small book releases trades (nothing to lose otherwise)"
    run_to_end(book, home, day)
    return Reference(book, day, once, Snapshot.of(home), rows, seconds)


def _deterministic_points(day: dt.date) -> dict[str, object]:
    """Name -> a condition on the home that marks the moment to kill."""
    date = day.isoformat()

    def partition(table: str):
        return lambda home: (home / f"warehouse/{table}/trade_date={date}/data.parquet").exists()

    def any_file(folder: str, pattern: str = "*"):
        return lambda home: any((home / folder).glob(pattern))

    return {
        "ingest": any_file("warehouse", f"raw_*/trade_date={date}/*"),
        "validation": partition("account_status"),
        "optimization shard": partition("optimization_problems"),
        "writing trade files": any_file(f"trades/{date}", ".*"),
        "trade files written": any_file(f"trades/{date}", "*_trades_*.csv"),
        "manifest written": any_file(f"trades/{date}", "manifest.json"),
        "ledger written": any_file(f"ledger/{date}", "*.json"),
        "catalog": any_file(".", ".catalog.duckdb.*"),
    }


def _kill_cases(reference: Reference) -> list[tuple[str, object]]:
    rng = random.Random(SEED)
    points = list(_deterministic_points(reference.day).items())
    delays = [round(rng.uniform(0.5, reference.seconds), 2) for _ in range(RANDOM_KILLS)]
    return points + [(f"after {delay}s", delay) for delay in delays]


def _start_and_kill(reference: Reference, home: Path, when: object) -> bool:
    """Start a run of the date in ``home`` and kill it at ``when``. A delay the run
    outlived (a quieter machine than the reference run's) is halved and tried again in a
    fresh home, so every random kill lands inside a run."""
    while True:
        shutil.rmtree(home, ignore_errors=True)
        process = start_run(reference.book, home, reference.day)
        if not isinstance(when, float):
            return kill_when(process, lambda condition=when: condition(home), 600)
        if kill_after(process, when):
            return True
        if when < 1.0:
            return False
        when = round(when / 2, 2)


def test_killed_runs_leave_nothing_partial_and_rerun_identically(reference, tmp_path):
    attempted, survived, lost = 0, 0, 0
    failures = []
    for number, (name, when) in enumerate(_kill_cases(reference)):
        home = tmp_path / f"home{number}"
        if not _start_and_kill(reference, home, when):
            failures.append(f"{name}: the run ended before the kill")
            continue
        attempted += 1
        committed = any((home / "ledger" / reference.day.isoformat()).glob("*.json"))
        problems = integrity_problems(home)
        run_to_end(reference.book, home, reference.day)
        after = Snapshot.of(home)
        expected = reference.twice if committed else reference.once
        differences = after.differences(expected)
        problems += integrity_problems(home) + temporary_files(home)
        rows_lost = len(reference.rows - released_rows(home, reference.day))
        lost += rows_lost
        if after.released() != reference.once.released():
            problems.append("the released batch differs from the uninterrupted run's")
        if differences or problems or rows_lost:
            failures.append(f"{name} (committed={committed}): {problems} differ: {differences}")
            shutil.copytree(home, tmp_path / f"failed-{number}", dirs_exist_ok=True)
        else:
            survived += 1
    print(f"\nkills attempted {attempted}, survived {survived}, rows lost {lost}")
    assert not failures, "\n".join(failures)
    assert lost == 0
