"""Ingest wiring: the custodian drops and firm files as sources, the canonical tables as assets."""

from collections.abc import Iterator

import dagster as dg

from rebalance_pipeline.book import CANONICAL_TABLES
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


@dg.multi_asset(
    outs={
        name: dg.AssetOut(io_manager_key="warehouse", group_name=GROUP, kinds={"polars"})
        for name in CANONICAL_TABLES
    },
    deps=[custodian_drops, firm_files],
    partitions_def=business_day_partitions(),
    check_specs=CANONICAL_CHECKS,
    can_subset=False,
)
def canonical_tables(
    context: dg.AssetExecutionContext, book: BookSource
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Parse the date's drops and firm files into the canonical tables (one schema whatever
    the custodian); parse faults become ``parse_findings``, never an exception."""
    from rebalance_pipeline.ingest import load_book

    as_of = partition_date(context.partition_key)
    policy = book.policy(as_of)
    loaded = load_book(book.path(), as_of, policy.validation.lookback_business_days)
    for name, frame in loaded.tables().items():
        yield dg.Output(frame, output_name=name)
    yield from canonical_check_results(loaded)
