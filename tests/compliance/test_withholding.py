"""Withholding: a violation takes the whole account out, released and queued alike."""

from __future__ import annotations

import polars as pl
from compliance_book import AS_OF, book, proposal, trade

from rebalance_pipeline import tables as t
from rebalance_pipeline.compliance import VIOLATIONS, apply_compliance, withhold
from rebalance_pipeline.policy import Policy


def test_a_queued_violation_withholds_the_accounts_released_trades_too() -> None:
    proposed = proposal(
        released=[
            trade("A1", "SEC-Y", "sell", 10, "A1-L2"),
            trade("B1", "SEC-Y", "sell", 10, "B1-L1"),
        ],
        queued=[trade("A1", "SEC-X", "sell", 500, "A1-L1")],  # A1-L1 holds 200
    )
    checked = apply_compliance(proposed, book(), Policy(), AS_OF)

    assert checked.violations.select("account_id", "rule").rows() == [
        ("A1", "sell_lot"),
        ("A1", "short_position"),
    ]
    final = checked.routing
    a1 = final.decisions.row(by_predicate=pl.col("account_id") == "A1", named=True)
    assert a1["route"] == "MANUAL"
    assert a1["reasons"] == ["compliance:sell_lot", "compliance:short_position"]
    assert a1["review"] is None
    assert a1["rule"] == (
        "withheld by compliance (proposed SCORE): "
        "sell_lot: sells 500.0 of lot A1-L1 (SEC-X) holding 200.0; "
        "short_position: SEC-X: holds 200.0, trades -500.0 net, short -300.0 after the trades"
        ": trade by hand"
    )
    assert final.released_trades["account_id"].to_list() == ["B1"]
    assert final.review_queue.is_empty()
    others = pl.col("account_id") != "A1"
    assert final.decisions.filter(others).equals(proposed.decisions.filter(others))
    assert final.released_trades.schema == proposed.released_trades.schema
    assert final.review_queue.schema == proposed.review_queue.schema


def test_the_rule_text_spells_out_three_violations_and_counts_the_rest() -> None:
    rows = [
        {"account_id": "B1", "rule": "invalid_trade", "message": f"trade {n}"} for n in range(5)
    ]
    decided = withhold(proposal([]), t.conform(pl.DataFrame(rows), VIOLATIONS)).decisions
    b1 = decided.row(by_predicate=pl.col("account_id") == "B1", named=True)
    assert b1["reasons"] == ["compliance:invalid_trade"]
    assert b1["rule"] == (
        "withheld by compliance (proposed SCORE): invalid_trade: trade 0; "
        "invalid_trade: trade 1; invalid_trade: trade 2; and 2 more: trade by hand"
    )
