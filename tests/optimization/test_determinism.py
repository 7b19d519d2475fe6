"""Stored optimization tables are the same on any machine: whatever the number of shards
(it follows the CPU count) and whatever a worker process solved before."""

from __future__ import annotations

import polars as pl
from conftest import P_LOTS_SCALES, account, at_target_lots, policy_with, problems_for

from rebalance_pipeline.optimization import convex
from rebalance_pipeline.optimization.shards import assign_shards, optimize_shard


def _book():
    return [
        account(
            f"A{i:02d}",
            at_target_lots(f"A{i:02d}", scale),
            cash=20_000.0 * scale,
            household=f"H{i // 3}",
        )
        for i, scale in enumerate(P_LOTS_SCALES)
    ]


def _solve_in_shards(problems, policy, n_shards: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    parts = [
        optimize_shard(members, policy)
        for members in assign_shards(problems, n_shards).values()
        if members
    ]
    results = pl.concat([p[0] for p in parts]).sort("account_id").drop("solve_seconds")
    trades = pl.concat([p[1] for p in parts]).sort("account_id", "side", "security_id", "lot_id")
    return results, trades


def test_results_do_not_depend_on_the_number_of_shards():
    policy = policy_with()
    problems = problems_for(policy, accounts=_book())
    one = _solve_in_shards(problems, policy, 1)
    two = _solve_in_shards(problems, policy, 2)
    assert one[1].height > 0
    assert one[0].equals(two[0])
    assert one[1].equals(two[1])


def test_a_warm_solver_gives_what_a_fresh_process_gives():
    """SCS (the fallback) could start from the previous account's solution; an account's
    result must not depend on what its worker solved before."""
    policy = policy_with(solver="SCS", fallback_solver="SCS")
    first, second = problems_for(policy, accounts=_book()[:2])
    convex._BUCKETS.clear()
    alone = convex.solve_convex(second, policy)
    convex._BUCKETS.clear()
    convex.solve_convex(first, policy)
    after_another = convex.solve_convex(second, policy)
    assert after_another.buy_weights.tobytes() == alone.buy_weights.tobytes()
    assert after_another.sell_weights.tobytes() == alone.sell_weights.tobytes()
