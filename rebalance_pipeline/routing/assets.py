"""Routing wiring: the proposed route of every account, before compliance checks its trades."""

import dagster as dg
import polars as pl

from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource

GROUP = "routing"
ROUTING_INS = (
    "account_status",
    "manual_queue",
    "account_valuations",
    "days_since_trade",
    "mandates",
    "holdings",
    "asset_class_drift",
    "active_holds",
    "active_halts",
    "optimization_results",
    "proposed_trades",
    "pending_orders",
)


@dg.asset(
    ins={name: dg.AssetIn(key=name) for name in ROUTING_INS},
    partitions_def=business_day_partitions(),
    io_manager_key="warehouse",
    group_name=GROUP,
    description="Route, reasons, rule, score vs threshold and review level per account as "
    "routing proposes them; compliance decides the final `routing_decisions`.",
)
def proposed_routes(
    context: dg.AssetExecutionContext, book: BookSource, **inputs: pl.DataFrame
) -> pl.DataFrame:
    from rebalance_pipeline.routing.route import RoutingInputs, route_decisions

    as_of = partition_date(context.partition_key)
    return route_decisions(RoutingInputs(**inputs), book.policy(as_of))
