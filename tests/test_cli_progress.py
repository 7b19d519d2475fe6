"""``backfill`` prints one line per date with the time left at the pace of the dates
done (``run``'s line per step: tests/test_executor.py)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from rebalance_pipeline import runner
from rebalance_pipeline.cli import app


def test_a_backfill_prints_each_date_with_the_time_left(monkeypatch, tmp_path: Path):
    """The n-th date takes 10 x n seconds of a clock the test controls."""
    ran, clock = [], [0.0]

    def materialize(day: dt.date, book: Path, **kwargs) -> runner.DateOutcome:
        ran.append(day)
        clock[0] += 10.0 * len(ran)
        return runner.DateOutcome(day, True, f"run-{day}", tmp_path, None)

    monkeypatch.setattr(runner, "materialize_date", materialize)
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    monkeypatch.setenv("REBALANCE_HOME", str(tmp_path / "home"))
    book = Path(__file__).resolve().parents[1] / "data" / "sample"
    args = ["backfill", "--book", str(book), "--start", "2026-03-11", "--end", "2026-03-13"]
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if "dates, about" in line]
    assert len(ran) == 3
    assert progress == [  # two left at 10 s, one at the mean of 10 and 20 s
        "  took 10 s; 1/3 dates, about 0:00:20 left",
        "  took 20 s; 2/3 dates, about 0:00:15 left",
        "  took 30 s; 3/3 dates, about 0:00:00 left",
    ]


def test_library_info_logs_stay_off_the_terminal_and_warnings_show(tmp_path: Path):
    """Great Expectations logs INFO on loggers of its own; once any module-level logging
    call had installed Python's default handler, they reached the terminal."""
    script = """
import logging, sys
from rebalance_pipeline import cli, storage

def catalog(root=None):
    logging.info("a stray module-level call")
    logging.getLogger("great_expectations.base").setLevel(logging.INFO)
    logging.getLogger("great_expectations.base").info("Created temporary directory")
    logging.getLogger("somewhere").warning("a warning a person should read")
    return []

storage.build_catalog = catalog
sys.argv = ["rebalance", "catalog"]
cli.main()
"""
    env = os.environ | {"REBALANCE_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert "INFO" not in done.stderr and "stray" not in done.stderr
    assert "a warning a person should read" in done.stderr
