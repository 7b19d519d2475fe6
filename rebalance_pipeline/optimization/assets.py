"""Optimization wiring: the stored per-account problems, then a fan-out over shards.

Each shard is one Dagster step (a dynamic output mapped over ``solve_shard``); households
never straddle shards, so same-day wash sales are resolved inside one step.
"""

import dagster as dg
import polars as pl

from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource

GROUP = "optimization"
FEATURE_INS = (
    "account_valuations",
    "tax_lots",
    "holdings",
    "security_prices",
    "restricted_securities",
    "wash_sale_windows",
    "mandates",
    "days_since_trade",
    "active_halts",
    "untradable_securities",
    "gain_budgets",
    "transition_progress",
)
CANONICAL_INS = ("securities", "model_targets", "model_bands", "prices", "price_history")


@dg.asset(
    ins={name: dg.AssetIn(key=name) for name in (*FEATURE_INS, *CANONICAL_INS)},
    partitions_def=business_day_partitions(),
    io_manager_key="warehouse",
    group_name=GROUP,
    description="The exact inputs of every ok account's problem (one row per account), so "
    "`rebalance solve` can re-solve any account alone.",
)
def optimization_problems(
    context: dg.AssetExecutionContext, book: BookSource, **inputs: pl.DataFrame
) -> pl.DataFrame:
    from rebalance_pipeline.optimization.problem_table import build_problem_table

    as_of = partition_date(context.partition_key)
    features = {name: inputs[name] for name in FEATURE_INS}
    canonical = {name: inputs[name] for name in CANONICAL_INS}
    return build_problem_table(features, canonical, book.policy(as_of))


@dg.op(out=dg.DynamicOut(pl.DataFrame))
def plan_shards(context: dg.OpExecutionContext, book: BookSource, problems: pl.DataFrame):
    """Split the accounts into shards of whole households (count from the policy)."""
    from rebalance_pipeline.optimization.shards import (
        available_workers,
        shard_count,
        split_into_shards,
    )

    policy = book.policy(partition_date(context.partition_key))
    shards = shard_count(problems.height, policy, available_workers())
    for shard, members in split_into_shards(problems, shards):
        yield dg.DynamicOutput(members, mapping_key=f"shard_{shard}")


@dg.op(out={"results": dg.Out(pl.DataFrame), "trades": dg.Out(pl.DataFrame)})
def solve_shard(context: dg.OpExecutionContext, book: BookSource, problems: pl.DataFrame):
    """Solve every account of one shard, household by household."""
    from rebalance_pipeline.optimization.problem import problems_from_frame
    from rebalance_pipeline.optimization.shards import optimize_shard

    policy = book.policy(partition_date(context.partition_key))
    results, trades = optimize_shard(problems_from_frame(problems), policy)
    context.add_output_metadata(
        {
            "shard": context.get_mapping_key(),
            "accounts": results.height,
            "solver_seconds": float(results["solve_seconds"].sum()),
        },
        output_name="results",
    )
    # timings are run metadata, not data: stored tables stay byte-identical across re-runs
    return results.with_columns(pl.lit(None, pl.Float64).alias("solve_seconds")), trades


@dg.op(
    out={
        "optimization_results": dg.Out(io_manager_key="warehouse"),
        "proposed_trades": dg.Out(io_manager_key="warehouse"),
    }
)
def collect_shards(results: list[pl.DataFrame], trades: list[pl.DataFrame]):
    """All shards' results and trades in one deterministic order."""
    from rebalance_pipeline import tables as t

    all_results = pl.concat([t.empty(t.OPTIMIZATION_RESULTS), *results]).sort("account_id")
    all_trades = pl.concat([t.empty(t.PROPOSED_TRADES), *trades]).sort(
        "account_id", "side", "security_id", "lot_id", nulls_last=True
    )
    return all_results, all_trades


@dg.graph_multi_asset(
    outs={
        "optimization_results": dg.AssetOut(io_manager_key="warehouse"),
        "proposed_trades": dg.AssetOut(io_manager_key="warehouse"),
    },
    ins={"optimization_problems": dg.AssetIn()},
    partitions_def=business_day_partitions(),
    can_subset=False,
    group_name=GROUP,  # a graph multi-asset takes its group here, not from its outs
)
def optimization(optimization_problems):
    results, trades = plan_shards(optimization_problems).map(solve_shard)
    return collect_shards(results.collect(), trades.collect())
