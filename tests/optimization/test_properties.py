"""Invariants of every proposal on small random accounts."""

from __future__ import annotations

import polars as pl
from conftest import SECURITIES, account, lot, policy_with, problems_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalance_pipeline.optimization.shards import optimize_shard

PRICES = {s["id"]: s["price"] for s in SECURITIES}

lots_strategy = st.lists(
    st.tuples(
        st.sampled_from(sorted(PRICES)),
        st.integers(1, 3000),  # shares
        st.floats(0.3, 2.0),  # cost basis / market value
        st.sampled_from(["2021-06-01", "2025-12-01"]),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lots=lots_strategy,
    cash=st.floats(0.0, 50_000.0),
    withdrawal_share=st.sampled_from([0.0, 0.0, 0.05, 0.3, 1.5]),
    registration=st.sampled_from(["taxable", "traditional_ira", "roth"]),
    tax_aversion=st.sampled_from(["low", "medium", "high"]),
    round_lots=st.booleans(),
)
def test_proposals_keep_the_invariants(
    lots, cash, withdrawal_share, registration, tax_aversion, round_lots
):
    lot_rows = [
        lot(f"L{i}", s, q, q * PRICES[s] * basis, acquired)
        for i, (s, q, basis, acquired) in enumerate(lots)
    ]
    value = cash + sum(q * PRICES[s] for s, q, _, _ in lots)
    requests = [{"account": "A", "amount": withdrawal_share * value}] if withdrawal_share else []
    policy = policy_with(tax_aversion=tax_aversion, round_lots=round_lots)
    problems = problems_for(
        policy,
        accounts=[account("A", lot_rows, cash=cash, registration=registration)],
        cash_requests=requests,
    )
    results, trades = optimize_shard(problems, policy, shard=0)
    result = results.row(0, named=True)

    sold = trades.filter(pl.col("side") == "sell")
    lot_quantity = {r["id"]: r["quantity"] for r in lot_rows}
    for lot_id, quantity in sold.group_by("lot_id").agg(pl.col("quantity").sum()).iter_rows():
        assert quantity <= lot_quantity[lot_id] + 1e-9

    position: dict[str, float] = {}
    for r in lot_rows:
        position[r["security"]] = position.get(r["security"], 0.0) + r["quantity"]
    for t in trades.iter_rows(named=True):
        sign = 1 if t["side"] == "buy" else -1
        position[t["security_id"]] = position.get(t["security_id"], 0.0) + sign * t["quantity"]
    assert min(position.values()) >= -1e-9

    if withdrawal_share > 1.0:
        assert result["solve_status"] == "infeasible" and trades.is_empty()
    else:
        assert result["solve_status"] == "optimal"
        assert result["cash_after"] >= result["required_cash"] - 0.01

    assert result["trade_count"] == trades.height
    if registration != "taxable":
        assert result["cost_tax_usd"] == 0.0 and result["benefit_tax_loss_usd"] == 0.0
    if trades.is_empty():
        assert result["score_usd"] == 0.0
