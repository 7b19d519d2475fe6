"""Per-account tax-aware optimization and the cost/benefit score.

``problem_table`` turns the feature frames into one row per account, which ``problem``
reads as one ``AccountProblem`` each (plain arrays); ``convex`` holds the DPP problem
compiled once per bucket;
``heuristic`` turns the convex solution into whole-share trades; ``score`` values
them; ``shards`` solves a shard household by household. cvxpy is imported only by
``convex``, which only the solving functions load.
"""

from rebalance_pipeline.optimization.problem import (
    AccountProblem,
    problems_from_frame,
    problems_to_frame,
)
from rebalance_pipeline.optimization.problem_table import build_problem_table, build_problems
from rebalance_pipeline.optimization.shards import (
    assign_shards,
    optimize_shard,
    shard_count,
    solve_one,
)

__all__ = [
    "AccountProblem",
    "assign_shards",
    "build_problem_table",
    "build_problems",
    "optimize_shard",
    "problems_from_frame",
    "problems_to_frame",
    "shard_count",
    "solve_one",
]
