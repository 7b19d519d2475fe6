"""Per-account tax-aware optimization and the cost/benefit score.

``problem`` turns the feature frames into one ``AccountProblem`` per account (plain
arrays, storable as Parquet); ``convex`` holds the DPP problem compiled once per bucket;
``heuristic`` turns the convex solution into whole-share trades; ``score`` values
them; ``shards`` solves a shard household by household. cvxpy is imported only by
``convex``, which only the solving functions load.
"""

from rebalance_pipeline.optimization.problem import (
    AccountProblem,
    build_problems,
    problems_from_frame,
    problems_to_frame,
)
from rebalance_pipeline.optimization.shards import (
    assign_shards,
    optimize_shard,
    shard_count,
    solve_one,
)

__all__ = [
    "AccountProblem",
    "assign_shards",
    "build_problems",
    "optimize_shard",
    "problems_from_frame",
    "problems_to_frame",
    "shard_count",
    "solve_one",
]
