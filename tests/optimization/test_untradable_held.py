"""A security nobody may trade today stays in the account, the risk model and the score at
its current quantity: the optimizer never rebalances as if it were gone."""

from __future__ import annotations

import polars as pl
from conftest import account, at_target_lots, policy_with, problems_for

from rebalance_pipeline.optimization.shards import optimize_shard


def test_an_untradable_core_holding_is_kept_and_nothing_else_moves():
    """TMKT (35% of the model, most of us_equity) has a doubtful price today. The account
    is at its model: without TMKT in view its us_equity would look 20 points under band
    and the optimizer would pour the account into LCAP."""
    policy = policy_with()
    problems = problems_for(
        policy, accounts=[account("A", at_target_lots("A"))], untradable=["SEC-TMKT"]
    )
    [problem] = problems
    assert "SEC-TMKT" in problem.security_ids
    results, trades = optimize_shard(problems, policy)
    result = results.row(0, named=True)
    assert "SEC-TMKT" not in trades["security_id"].to_list()
    assert result["score_usd"] >= 0.0
    lcap = trades.filter((pl.col("security_id") == "SEC-LCAP") & (pl.col("side") == "buy"))
    assert lcap["amount"].sum() < 0.01 * result["account_value"]
