"""The one-screen summary of a date."""

from __future__ import annotations

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.reporting.summary import summary_report
from rebalance_pipeline.routing.route import RELEASED_TRADES


def test_summary_counts_routes_reviews_and_money():
    decisions = t.conform(
        pl.DataFrame(
            {
                "account_id": ["A", "B", "C", "D"],
                "route": ["MANDATE", "SCORE", "SCORE", "SUSPENDED"],
                "review": ["auto", "auto", "review", None],
            }
        ),
        t.ROUTING_DECISIONS,
    )
    released = t.conform(
        pl.DataFrame(
            {
                "account_id": ["A", "A", "B"],
                "side": ["sell", "buy", "sell"],
                "amount": [1000.0, 900.0, 500.0],
                "realized_gain": [200.0, None, -75.5],
            }
        ),
        RELEASED_TRADES,
    )
    results = t.conform(
        pl.DataFrame({"account_id": ["A", "B", "C"], "cost_tax_usd": [40.0, 0.0, 99.0]}),
        t.OPTIMIZATION_RESULTS,
    )
    lines = summary_report(decisions, released, results).splitlines()
    assert lines[0] == "accounts: 4"
    assert "MANDATE         1       0      1" in lines
    assert "SCORE           1       1      2" in lines
    assert "SUSPENDED       0       0      1" in lines
    assert "released trades: 3 in 2 accounts" in lines
    assert "turnover: $2,400.00 (buys $900.00, sells $1,500.00)" in lines
    assert "estimated taxes: $40.00" in lines  # C's trades are still in review
    assert "realized gains: $200.00" in lines
    assert "harvested losses: $75.50" in lines


def test_summary_of_a_date_without_trades():
    decisions = t.conform(
        pl.DataFrame({"account_id": ["A"], "route": ["NO_TRADE"], "review": [None]}),
        t.ROUTING_DECISIONS,
    )
    report = summary_report(decisions, t.empty(RELEASED_TRADES), t.empty(t.OPTIMIZATION_RESULTS))
    assert "NO_TRADE        0       0      1" in report.splitlines()
    assert "released trades: 0 in 0 accounts" in report
    assert "harvested losses: $0.00" in report


def test_summary_money_is_rounded_half_up_and_never_negative_zero():
    released = t.conform(
        pl.DataFrame({"account_id": ["A"], "side": ["buy"], "amount": [2.675]}), RELEASED_TRADES
    )
    results = t.conform(
        pl.DataFrame({"account_id": ["A"], "cost_tax_usd": [-0.001]}), t.OPTIMIZATION_RESULTS
    )
    decisions = t.conform(pl.DataFrame({"account_id": ["A"]}), t.ROUTING_DECISIONS)
    lines = summary_report(decisions, released, results).splitlines()
    assert "turnover: $2.68 (buys $2.68, sells $0.00)" in lines
    assert "estimated taxes: $0.00" in lines
