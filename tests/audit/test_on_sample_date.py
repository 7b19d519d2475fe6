"""explain and diff on the sample book's latest date, materialized in-process once."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline import storage
from rebalance_pipeline.audit import diff, explain
from rebalance_pipeline.audit.batches import current_batch_id
from rebalance_pipeline.policy import book_policy

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"

pytestmark = pytest.mark.slow


@pytest.fixture
def materialized(materialized_sample: tuple[Path, dt.date]) -> tuple[Path, dt.date]:
    return materialized_sample


def test_one_account_of_every_route_is_explained(materialized: tuple[Path, dt.date]) -> None:
    home, day = materialized
    policy = book_policy(SAMPLE, day)
    decisions = storage.read_partition("routing_decisions", day, home)
    released = storage.read_partition("released_trades", day, home)
    firsts = decisions.group_by("route").agg(pl.col("account_id").min()).sort("route")
    assert firsts.height >= 3  # the sample date has suspended, traded and untraded accounts
    for route, account in firsts.iter_rows():
        explanation = explain(account, day, home, policy)
        record = json.loads(json.dumps(explanation.to_dict()))
        assert len(record["sections"]) == 8
        assert f"route {route}" in "\n".join(explanation.section("routing").lines)
        if route in ("MANDATE", "SCORE", "NO_TRADE"):
            assert explanation.section("optimizer").data["result"] is not None, account
        rows = explanation.section("trades").data["trade_file_rows"]
        assert len(rows) == released.filter(pl.col("account_id") == account).height


def test_the_current_batch_against_itself_is_empty(materialized: tuple[Path, dt.date]) -> None:
    home, day = materialized
    batch = current_batch_id(day, home)
    assert batch is not None
    assert diff(day, batch, home).is_empty
