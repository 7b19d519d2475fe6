"""Ingest wiring: the custodian drops and firm files as sources, the canonical tables as assets."""

from collections.abc import Iterator

import dagster as dg

from rebalance_pipeline import storage
from rebalance_pipeline.book import CANONICAL_TABLES, ingested
from rebalance_pipeline.ingest.custodians import book_custodians
from rebalance_pipeline.ingest.raw import raw_table_names
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


# One raw table per custodian and kind of the book the code location serves
# ($REBALANCE_BOOK, as the partitions): the custodians come from its firm/custodians.yaml.
RAW_TABLES = raw_table_names(book_custodians(storage.book_root()))
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
            ingested(name): dg.AssetOut(
                io_manager_key="warehouse", group_name=GROUP, kinds={"polars"}
            )
            for name in CANONICAL_TABLES
        },
    },
    deps=[custodian_drops, firm_files],
    internal_asset_deps={
        **{name: {custodian_drops.key} for name in RAW_TABLES},
        **{
            ingested(name): {firm_files.key}
            if name in FIRM_TABLES
            else {dg.AssetKey(t) for t in RAW_TABLES}
            for name in CANONICAL_TABLES
        },
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
    ``parse_findings``, never an exception. The tables the continuity stage carries on
    from the firm's earlier releases are stored as read under ``ingested_<table>``
    (book.CARRIED_TABLES); the raw tables keep what the custodians sent."""
    from rebalance_pipeline.ingest import load_book
    from rebalance_pipeline.ingest.raw import raw_tables

    as_of = partition_date(context.partition_key)
    policy = book.policy(as_of)
    raw = raw_tables(book.path(), as_of)
    if tuple(raw) != RAW_TABLES:
        raise dg.Failure(
            description=f"the custodians of {book.path()} are not those the definitions were "
            f"loaded with (raw tables {', '.join(raw)} for {', '.join(RAW_TABLES)}): "
            "reload the code location",
            allow_retries=False,
        )
    for name, frame in raw.items():
        yield dg.Output(frame, output_name=name)
    loaded = load_book(book.path(), as_of, policy.validation.lookback_business_days)
    for name, frame in loaded.tables().items():
        yield dg.Output(frame, output_name=ingested(name))
    yield from canonical_check_results(loaded)
