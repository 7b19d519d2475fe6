"""Per-account tax-aware optimization and the cost/benefit score.

``problem`` turns the feature frames into one ``AccountProblem`` per account (plain
arrays, storable as Parquet); ``convex`` holds the DPP problem compiled once per bucket;
``heuristic`` turns the convex solution into whole-share trades; ``score`` values
them; ``shards`` solves a shard household by household. cvxpy is imported only by
``convex``, which only the solving functions load.
"""
