"""Routing wiring: one decision per account, the trades released now and the review queue."""

from collections.abc import Iterator

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


@dg.multi_asset(
    outs={
        "routing_decisions": dg.AssetOut(
            io_manager_key="warehouse",
            group_name=GROUP,
            description="Route, reasons, rule, score vs threshold and review level per account.",
        ),
        "released_trades": dg.AssetOut(
            io_manager_key="warehouse",
            group_name=GROUP,
            description="Trades of MANDATE/SCORE accounts that need no review: released now.",
        ),
        "review_queue": dg.AssetOut(
            io_manager_key="warehouse",
            group_name=GROUP,
            description="Trades waiting for a reviewer (`rebalance review --date D`).",
        ),
    },
    ins={name: dg.AssetIn(key=name) for name in ROUTING_INS},
    partitions_def=business_day_partitions(),
    can_subset=False,
)
def routing(
    context: dg.AssetExecutionContext, book: BookSource, **inputs: pl.DataFrame
) -> Iterator[dg.Output]:
    from rebalance_pipeline.export.summary import summary_report
    from rebalance_pipeline.routing.route import RoutingInputs, route_accounts

    as_of = partition_date(context.partition_key)
    routed = route_accounts(RoutingInputs(**inputs), book.policy(as_of))
    decisions = routed.decisions
    per_route = dict(decisions.group_by("route").len().sort("route").rows())
    per_review = dict(decisions.drop_nulls("review").group_by("review").len().sort("review").rows())
    yield dg.Output(
        decisions,
        output_name="routing_decisions",
        metadata={
            "accounts_per_route": per_route,
            "accounts_per_review": per_review,
            "summary": dg.MetadataValue.md(
                "```\n"
                + summary_report(decisions, routed.released_trades, inputs["optimization_results"])
                + "\n```"
            ),
        },
    )
    yield dg.Output(
        routed.released_trades,
        output_name="released_trades",
        metadata={"turnover_usd": float(routed.released_trades["amount"].sum())},
    )
    yield dg.Output(routed.review_queue, output_name="review_queue")
