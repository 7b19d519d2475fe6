"""A security nobody may trade today stays in the problem: its target is still the
target and it carries risk, but it is neither bought nor sold."""

from __future__ import annotations

import polars as pl
from conftest import account, at_target_lots, policy_with, problems_for

from rebalance_pipeline.optimization.shards import optimize_shard


def test_an_untradable_target_stays_in_the_problem_frozen():
    """TMKT (35% of the model) has a doubtful price today and the account holds none of
    it (a holder would be suspended): it stays in view, frozen at zero shares."""
    policy = policy_with()
    lots = [held for held in at_target_lots("A") if held["security"] != "SEC-TMKT"]
    problems = problems_for(
        policy, accounts=[account("A", lots, cash=280_000.0)], untradable=["SEC-TMKT"]
    )
    [problem] = problems
    index = problem.security_ids.index("SEC-TMKT")
    assert problem.untradable[index] and problem.targets[index] == 0.35
    results, trades = optimize_shard(problems, policy)
    result = results.row(0, named=True)
    assert "SEC-TMKT" not in trades["security_id"].to_list()
    assert "held as they are (price in doubt today): SEC-TMKT" in result["status_detail"]
    # the equity it stands for is bought in its place, in the same class
    bought = trades.filter(pl.col("side") == "buy")
    assert "SEC-TMK2" in bought["security_id"].to_list() or "SEC-LCAP" in bought["security_id"]
