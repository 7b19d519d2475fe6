"""After a review session, explain and summary show what was decided, not the proposal."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest
from sample_review import SampleCopy, decide, sample_copy

pytestmark = pytest.mark.slow


@pytest.fixture
def reviewed(
    materialized_sample: tuple[Path, dt.date], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[SampleCopy, str, str]:
    """The sample date with its first queued account approved and its second rejected."""
    copy = sample_copy(materialized_sample, tmp_path, monkeypatch)
    instance = copy.home / "dagster"  # as `rebalance run` leaves it
    instance.mkdir()
    (instance / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    queue = copy.queue()
    approved, rejected = queue["account_id"].unique(maintain_order=True).to_list()[:2]
    decided = decide(queue, {approved: "approve", rejected: "reject"})
    copy.review(decided, tmp_path)
    return copy, approved, rejected


def test_explain_shows_the_decisions_and_the_review_batch(reviewed) -> None:
    copy, approved, rejected = reviewed
    approved_text = copy.cli("explain", "--account", approved, "--date", copy.day.isoformat())
    rejected_text = copy.cli("explain", "--account", rejected, "--date", copy.day.isoformat())
    assert "decision pending" not in approved_text + rejected_text
    assert "approve by Dana at 2026-03-16T21:30:00Z" in approved_text
    assert "reject by Dana at 2026-03-16T21:30:00Z" in rejected_text
    review_rows = re.findall(r"review batch \w+: (\d+) rows of the account", approved_text)
    queued = copy.queue()  # both accounts are settled: neither is still queued
    assert approved not in queued["account_id"] and rejected not in queued["account_id"]
    assert review_rows and int(review_rows[0]) > 0
    assert "review batch" not in rejected_text


def test_summary_counts_the_trades_review_released(reviewed) -> None:
    copy, approved, _ = reviewed
    home, day = copy.home, copy.day
    from rebalance_pipeline import storage

    run_released = storage.read_partition("released_trades", day, home)
    outcomes = storage.read_partition("review_outcomes", day, home)
    added = outcomes.filter(pl.col("decision") != "reject")
    assert added["account_id"].unique().to_list() == [approved]
    text = copy.cli("summary", "--date", day.isoformat())
    trades = run_released.height + added.height
    accounts = run_released["account_id"].n_unique() + 1
    assert f"released trades: {trades} in {accounts} accounts" in text
    assert "review decisions: 1 accounts approved or modified, 1 rejected, " in text


def test_diff_shows_what_the_review_changed(reviewed) -> None:
    copy, approved, rejected = reviewed
    text = copy.cli("diff", "--date", copy.day.isoformat())
    lines = text.splitlines()
    assert "review batch" in lines[0]
    assert any(line.startswith(f"  {approved}: +") for line in lines)  # its trades added
    assert f"  {approved}: not released -> score_above_threshold/review" in lines
    rejections = [line for line in lines if line.startswith(f"  {rejected}: reject ")]
    assert rejections and all("by Dana at 2026-03-16T21:30:00Z" in line for line in rejections)


def test_the_dagster_asset_shows_the_decisions(reviewed) -> None:
    """The session is a materialization of the date's review_outcomes in the instance."""
    import dagster as dg

    copy, approved, rejected = reviewed
    with dg.DagsterInstance.from_config(str(copy.home / "dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("review_outcomes"))
    assert event is not None
    materialization = event.asset_materialization
    assert materialization.partition == copy.day.isoformat()
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["accounts_approved"] == 1 and metadata["accounts_rejected"] == 1
    assert metadata["accounts_awaiting_review"] == copy.queue()["account_id"].n_unique()
    table = metadata["decisions"]
    assert f"| {approved} |" in table and f"| {rejected} |" in table and "| Dana |" in table


def test_the_daily_report_counts_the_session_without_being_built_again(reviewed) -> None:
    """The page and the daily_report asset's metadata in the instance count the session."""
    import dagster as dg

    from rebalance_pipeline import storage

    copy = reviewed[0]
    outcomes = storage.read_partition("review_outcomes", copy.day, copy.home)
    released = outcomes.filter(pl.col("decision") != "reject").height
    row = f"<td>released after review</td><td>{released}</td><td>1</td>"
    assert row in storage.report_file(copy.day, copy.home).read_text()
    with dg.DagsterInstance.from_config(str(copy.home / "dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("daily_report"))
    assert event is not None
    materialization = event.asset_materialization
    assert materialization.partition == copy.day.isoformat()
    assert f"| released after review | {released} | 1 |" in materialization.metadata["report"].value
