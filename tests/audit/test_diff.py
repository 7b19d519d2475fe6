"""diff: a date's current batch and decisions against an earlier batch of the same date."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from stored_date import (
    DAY,
    RELEASED,
    REVIEWED,
    TRADED,
    export_batch,
    released_rows,
    write_stored_date,
)
from typer.testing import CliRunner

from rebalance_pipeline import storage
from rebalance_pipeline import tables as t
from rebalance_pipeline.audit import AuditError, diff
from rebalance_pipeline.audit.batches import batch_ids, read_batch
from rebalance_pipeline.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_stored_date(tmp_path)
    return tmp_path


def first_batch(home: Path) -> str:
    return batch_ids(DAY, home)[0]


def test_a_batch_against_itself_is_empty(home: Path) -> None:
    batch = first_batch(home)
    report = diff(DAY, batch, home)
    assert report.is_empty
    assert report.trades == [] and report.decisions == []
    header = f"2026-03-16: batch {batch} -> current batch {batch}"
    assert report.to_text() == f"{header}\nno differences\n"


def test_a_changed_quantity_lists_exactly_that_account(home: Path) -> None:
    first = first_batch(home)
    changed = [(*RELEASED[0][:3], 12.0, *RELEASED[0][4:]), RELEASED[1]]
    second = export_batch(home, released_rows(changed))
    assert second != first
    report = diff(DAY, first, home)
    assert report.current == second
    assert [change.account_id for change in report.trades] == [TRADED]
    (change,) = report.trades
    assert change.added == [] and change.removed == []
    (pair,) = change.changed
    assert (pair["before"]["quantity"], pair["after"]["quantity"]) == ("10", "12")
    assert (pair["before"]["estimated_amount"], pair["after"]["estimated_amount"]) == (
        "500.00",
        "600.00",
    )
    assert report.decisions == []  # same reason and review level
    assert "A-TRADE: +0 -0 ~1" in report.to_text()
    assert diff(DAY, None, home).against == first  # default: the batch before the current


def test_removed_and_added_accounts_show_their_decisions(home: Path) -> None:
    first = first_batch(home)
    reviewed = released_rows([(REVIEWED, "SEC-A", "buy", 40.0, 100.0, None, "x")]).with_columns(
        pl.lit("score_above_threshold").alias("reason"), pl.lit("review").alias("review")
    )
    export_batch(home, reviewed)
    decisions = storage.read_partition("routing_decisions", DAY, home).with_columns(
        pl.when(pl.col("account_id") == TRADED)
        .then(pl.lit("HOLD"))
        .otherwise(pl.col("route"))
        .alias("route"),
        pl.when(pl.col("account_id") == TRADED)
        .then(pl.lit(None, t.Utf8))
        .otherwise(pl.col("review"))
        .alias("review"),
    )
    storage.write_partition(decisions, "routing_decisions", DAY, home)
    report = diff(DAY, first, home)
    by_account = {change.account_id: change for change in report.trades}
    assert sorted(by_account) == [REVIEWED, TRADED]
    assert [row["security_id"] for row in by_account[REVIEWED].added] == ["SEC-A"]
    assert len(by_account[TRADED].removed) == 2 and by_account[TRADED].added == []
    assert [(c.account_id, c.before, c.after) for c in report.decisions] == [
        (REVIEWED, "not released", "score_above_threshold/review"),
        (TRADED, "band_breach_normal/auto", "not released (HOLD, review n/a)"),
    ]


def test_without_stored_decisions_routes_are_not_compared(home: Path) -> None:
    storage.partition_file("routing_decisions", DAY, home).unlink()
    report = diff(DAY, first_batch(home), home)
    assert report.decisions is None
    assert report.to_dict()["decisions"] is None


def test_unknown_batch_and_missing_trade_files_are_clear_errors(home: Path) -> None:
    listed = rf"no batch 'abc' on 2026-03-16 \(batches: {first_batch(home)}\)"
    with pytest.raises(AuditError, match=listed):
        diff(DAY, "abc", home)
    with pytest.raises(AuditError, match="no trade files for 2026-03-13"):
        diff(dt.date(2026, 3, 13), None, home)


def test_a_file_changed_after_writing_is_reported(home: Path) -> None:
    batch = first_batch(home)
    path = home / "trades" / DAY.isoformat() / "alpha_trades_20260316.csv"
    path.write_text(path.read_text().replace(",10,", ",11,"))
    assert read_batch(DAY, batch, home).mismatched_files == ["alpha_trades_20260316.csv"]


def test_cli_explain_and_diff(home: Path) -> None:
    runner = CliRunner()
    env = {"REBALANCE_HOME": str(home), "REBALANCE_BOOK": str(ROOT / "data" / "sample")}
    shown = runner.invoke(app, ["explain", "--account", TRADED, "--date", "2026-03-16"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "7. Trades" in shown.output and "lot A-TRADE-L1" in shown.output
    as_json = runner.invoke(
        app, ["explain", "--account", TRADED, "--date", "2026-03-16", "--json"], env=env
    )
    assert json.loads(as_json.output)["account_id"] == TRADED
    report = runner.invoke(
        app, ["diff", "--date", "2026-03-16", "--against", first_batch(home), "--json"], env=env
    )
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["trades"] == []


def test_a_date_with_one_batch_has_nothing_to_compare_it_with(home: Path) -> None:
    batch = first_batch(home)
    with pytest.raises(AuditError, match=f"one batch \\({batch}\\): nothing earlier"):
        diff(DAY, None, home)
