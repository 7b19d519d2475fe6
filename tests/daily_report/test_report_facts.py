"""The daily report's facts, on small hand-built tables with known answers."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from rebalance_pipeline import tables as t
from rebalance_pipeline.daily_report import facts
from rebalance_pipeline.review.records import REVIEW_OUTCOMES
from rebalance_pipeline.review.state import ReviewState
from rebalance_pipeline.routing.route import RELEASED_TRADES, REVIEW_QUEUE

DAY = dt.date(2026, 3, 16)


def frame(schema: pl.Schema, **columns: list) -> pl.DataFrame:
    return t.conform(pl.DataFrame(columns), schema)


def test_suspensions_are_the_errors_by_cause_and_file_naming_the_first_accounts():
    accounts = [f"A{n:02d}" for n in range(7, 0, -1)]
    findings = frame(
        t.FINDINGS,
        check=["wrong_encoding", "unknown_realized_gain", "malformed_row", "malformed_row"],
        severity=["error", "warning", "error", "error"],
        source_file=["alder/cash.csv", "birch/tx.dat", "birch/lots.dat", "birch/lots.dat"],
        account_ids=[accounts, ["A08"], ["A09"], ["A09", "A10"]],
    )
    groups = facts.suspension_groups(findings)
    assert groups.rows() == [
        ("wrong_encoding", "alder/cash.csv", 7, ["A01", "A02", "A03", "A04", "A05"]),
        ("malformed_row", "birch/lots.dat", 2, ["A09", "A10"]),
    ]


def trades(schema: pl.Schema, rows: list[tuple], **extra: list) -> pl.DataFrame:
    """(account, security, side, lot, quantity, amount) per trade."""
    names = ["account_id", "security_id", "side", "lot_id", "quantity", "amount"]
    columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    return frame(schema, **columns, **extra)


QUEUE = trades(
    REVIEW_QUEUE,
    [
        ("B", "S1", "buy", None, 10.0, 100.0),
        ("B", "S2", "sell", "L1", 5.0, 50.0),
        ("C", "S1", "buy", None, 4.0, 40.0),
        ("D", "S3", "sell", "L9", 1.0, 10.0),
    ],
)
AUTO = trades(RELEASED_TRADES, [("A", "S1", "buy", None, 1.0, 10.0)])


def test_before_any_review_the_whole_queue_awaits():
    state = ReviewState(QUEUE, pl.DataFrame(schema=REVIEW_OUTCOMES))
    assert state.trade_states(AUTO).rows() == [
        ("released automatically", 1, 1),
        ("released after review", 0, 0),
        ("awaiting review", 4, 3),
        ("rejected in review", 0, 0),
    ]


def test_after_a_review_the_decisions_are_counted_and_only_the_undecided_await():
    outcomes = trades(
        REVIEW_OUTCOMES,
        [
            ("B", "S1", "buy", None, 6.0, 60.0),  # modified from 10
            ("B", "S2", "sell", "L1", 5.0, 50.0),
            ("C", "S1", "buy", None, 4.0, 40.0),
        ],
        decision=["modify", "approve", "reject"],
    )
    state = ReviewState(QUEUE, outcomes)
    assert state.trade_states(AUTO).rows() == [
        ("released automatically", 1, 1),
        ("released after review", 2, 1),
        ("awaiting review", 1, 1),
        ("rejected in review", 1, 1),
    ]
    assert state.released()["quantity"].to_list() == [6.0, 5.0]
    assert state.awaiting()["account_id"].to_list() == ["D"]


def test_drift_after_adds_the_net_buying_over_the_account_value():
    drift = frame(
        t.ASSET_CLASS_DRIFT,
        account_id=["A", "A", "B", "B", "Z"],
        asset_class=["bonds", "stocks", "bonds", "stocks", "bonds"],
        drift=[-0.10, 0.10, 0.02, -0.04, 0.50],  # Z has no trades: left out
    )
    values = frame(
        t.ACCOUNT_VALUATIONS, account_id=["A", "B", "Z"], total_value=[1000.0, 500.0, 1.0]
    )
    proposed = frame(
        RELEASED_TRADES,
        account_id=["A", "A", "A", "B"],
        asset_class=["bonds", "bonds", "stocks", "stocks"],
        side=["buy", "buy", "sell", "buy"],
        amount=[60.0, 40.0, 100.0, 10.0],
    )
    result = facts.drift_before_after(drift, values, proposed)
    # A: bonds -0.10 + 100/1000 = 0, stocks 0.10 - 0.10 = 0; B: bonds 0.02, stocks -0.02
    assert result["asset_class"].to_list() == ["bonds", "stocks"]
    assert result["accounts"].to_list() == [2, 2]
    assert result["before"].to_list() == pytest.approx([6.0, 7.0])
    assert result["after"].to_list() == pytest.approx([1.0, 1.0])


def test_scores_count_the_accounts_above_their_threshold_per_group():
    decisions = frame(
        t.ROUTING_DECISIONS,
        account_id=["A", "B", "C", "D"],
        account_group=["small", "small", "small", "uhnw"],
        score_bps=[30.0, 5.0, 12.0, None],  # D was not scored
        threshold_bps=[10.0, 10.0, 20.0, 15.0],
    )
    groups = facts.score_by_group(facts.scored_accounts(decisions))
    assert groups.rows() == [("small", 3, 1, 12.0, 10.0)]


def test_trades_per_custodian_by_side():
    values = frame(t.ACCOUNT_VALUATIONS, account_id=["A", "B"], custodian=["alder", "birch"])
    released = frame(
        RELEASED_TRADES,
        account_id=["A", "A", "B", "A"],
        side=["buy", "sell", "buy", "buy"],
        amount=[1.0, 2.0, 3.0, 4.0],
    )
    assert facts.trades_per_custodian(released, values).rows() == [
        ("alder", "buy", 2, 5.0),
        ("alder", "sell", 1, 2.0),
        ("birch", "buy", 1, 3.0),
    ]


def test_outliers_group_the_accounts_per_flag():
    decisions = frame(
        t.ROUTING_DECISIONS,
        account_id=["A", "B", "C"],
        outlier_flags=[["turnover"], ["turnover", "peer_turnover"], []],
    )
    assert facts.outlier_groups(decisions).rows() == [
        ("peer_turnover", 1, ["B"]),
        ("turnover", 2, ["A", "B"]),
    ]


def test_changes_count_routes_and_name_the_accounts_that_moved():
    previous = frame(
        t.ROUTING_DECISIONS, account_id=["A", "B", "C"], route=["SCORE", "SUSPENDED", "NO_TRADE"]
    )
    today = frame(
        t.ROUTING_DECISIONS,
        account_id=["A", "B", "C", "D"],
        route=["SUSPENDED", "SCORE", "NO_TRADE", "SUSPENDED"],
    )
    changes = facts.changes_since(previous, today)
    assert changes.routes.rows() == [
        ("SUSPENDED", 1, 2, 1),
        ("SCORE", 1, 1, 0),
        ("NO_TRADE", 1, 1, 0),
    ]
    assert changes.moved.rows() == [("A", "SCORE", "SUSPENDED"), ("B", "SUSPENDED", "SCORE")]
    assert (changes.newly_suspended, changes.no_longer_suspended) == (1, 1)
