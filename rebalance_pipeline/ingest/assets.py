"""Ingest wiring: the custodian drops and firm files as sources, the canonical tables as assets."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from rebalance_pipeline.book import CANONICAL_TABLES
from rebalance_pipeline.ingest.raw import RAW_TABLES
from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource
from rebalance_pipeline.validation.checks import CANONICAL_CHECKS, canonical_check_results

GROUP = "ingest"

custodian_drops = dg.AssetSpec(
    "custodian_drops",
    group_name="sources",
    description="Files the custodians drop each business day (drops/YYYY-MM-DD/<custodian>/), "
    "with the transfer server's arrival log.",
    kinds={"csv"},
)
firm_files = dg.AssetSpec(
    "firm_files",
    group_name="sources",
    description="Effective-dated firm inputs under firm/: accounts, securities, models, "
    "restrictions, cash requests, holds, halts, policy.",
    kinds={"csv", "yaml"},
)


CONTINUITY_TABLES = {
    "pending_orders": "Released trades the custodian's transactions do not show yet "
    "(open, or expired after the policy's business days), per account, security, side, lot.",
    "cash_request_status": "Every cash request's lifecycle state: requested, raised (by a "
    "released batch), paid (withdrawal seen) or cancelled.",
    "continuity_findings": "Warnings for operations: expired pending orders, raised cash "
    "requests unpaid past their due date.",
}

FIRM_TABLES = (
    "accounts",
    "securities",
    "model_targets",
    "model_bands",
    "restrictions",
    "cash_requests",
    "holds",
    "halts",
)


@dg.multi_asset(
    outs={
        **{
            name: dg.AssetOut(
                io_manager_key="warehouse",
                group_name="raw",
                kinds={"polars"},
                description="The custodian's records exactly as delivered (text), with file, "
                "line and the file's SHA-256.",
            )
            for name in RAW_TABLES
        },
        **{
            name: dg.AssetOut(io_manager_key="warehouse", group_name=GROUP, kinds={"polars"})
            for name in CANONICAL_TABLES
        },
        **{
            name: dg.AssetOut(
                io_manager_key="warehouse", group_name=GROUP, kinds={"polars"}, description=text
            )
            for name, text in CONTINUITY_TABLES.items()
        },
    },
    deps=[custodian_drops, firm_files],
    internal_asset_deps={
        **{name: {custodian_drops.key} for name in RAW_TABLES},
        **{
            name: {firm_files.key} if name in FIRM_TABLES else {dg.AssetKey(t) for t in RAW_TABLES}
            for name in CANONICAL_TABLES
        },
        **{name: {firm_files.key, custodian_drops.key} for name in CONTINUITY_TABLES},
    },
    partitions_def=business_day_partitions(),
    check_specs=CANONICAL_CHECKS,
    can_subset=False,
)
def canonical_tables(
    context: dg.AssetExecutionContext, book: BookSource
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Read the date's drops as raw records, and parse them with the firm files into the
    canonical tables (one schema whatever the custodian); parse faults become
    ``parse_findings``, never an exception. The firm's releases of earlier dates (the
    ledger) are then carried in (rebalance_pipeline/continuity): the canonical lots,
    positions, cash, cash requests and last firm trade dates are those the stages run on,
    while the raw tables keep what the custodians sent."""
    from rebalance_pipeline.continuity import continue_book, read_ledger
    from rebalance_pipeline.continuity.cash_requests import read_cancellations
    from rebalance_pipeline.ingest import load_book
    from rebalance_pipeline.ingest.raw import raw_tables

    as_of = partition_date(context.partition_key)
    policy = book.policy(as_of)
    for name, frame in raw_tables(book.path(), as_of).items():
        yield dg.Output(frame, output_name=name)
    loaded = load_book(book.path(), as_of, policy.validation.lookback_business_days)
    carried = continue_book(
        loaded, read_ledger(book.home(), as_of), policy, read_cancellations(book.path())
    )
    for name, frame in carried.book.tables().items():
        yield dg.Output(frame, output_name=name)
    yield dg.Output(
        carried.pending_orders,
        output_name="pending_orders",
        metadata={"open_orders": carried.pending_orders.filter(pl.col("status") == "open").height},
    )
    yield dg.Output(carried.cash_request_status, output_name="cash_request_status")
    yield dg.Output(carried.findings, output_name="continuity_findings")
    yield from canonical_check_results(loaded)
