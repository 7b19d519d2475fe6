"""Doing nothing is always feasible and scores 0: without a due mandate, no proposal may
score below it."""

from __future__ import annotations

from conftest import BALANCED, SECURITIES, account, lot, policy_with, problems_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalance_pipeline.optimization.shards import optimize_shard

PRICES = {s["id"]: s["price"] for s in SECURITIES}
NO_BANDS = {"M-BAL": {**BALANCED, "bands": {}}}  # no band can be breached: no mandate

holdings = st.lists(
    st.tuples(
        st.sampled_from(sorted(PRICES)),
        st.integers(1, 4000),  # shares
        st.floats(0.3, 2.0),  # cost basis / market value
        st.sampled_from(["2021-06-01", "2025-12-01", "2026-03-02"]),
    ),
    min_size=1,
    max_size=7,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    held=holdings,
    cash=st.floats(0.0, 200_000.0),
    registration=st.sampled_from(["taxable", "traditional_ira", "roth"]),
    tax_aversion=st.sampled_from(["low", "medium", "high"]),
    round_lots=st.booleans(),
    min_trade_usd=st.sampled_from([0.0, 2500.0]),
    untradable=st.lists(st.sampled_from(sorted(PRICES)), max_size=2, unique=True),
)
def test_a_proposal_without_a_mandate_never_scores_below_doing_nothing(
    held, cash, registration, tax_aversion, round_lots, min_trade_usd, untradable
):
    lots = [
        lot(f"L{i}", security, shares, shares * PRICES[security] * basis, acquired)
        for i, (security, shares, basis, acquired) in enumerate(held)
    ]
    # a holder of a security with a doubtful price is suspended: only others are in doubt
    untradable = [s for s in untradable if s not in {h[0] for h in held}]
    policy = policy_with(
        tax_aversion=tax_aversion, round_lots=round_lots, min_trade_usd=min_trade_usd
    )
    problems = problems_for(
        policy,
        accounts=[account("A", lots, cash=cash, registration=registration)],
        models=NO_BANDS,
        untradable=untradable,
    )
    results, trades = optimize_shard(problems, policy)
    result = results.row(0, named=True)
    assert result["solve_status"] == "optimal"
    assert result["score_usd"] >= 0.0, (result["score_usd"], trades)
