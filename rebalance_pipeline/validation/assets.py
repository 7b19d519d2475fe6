"""Validation wiring: findings, account status and the manual queue of each date."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from rebalance_pipeline.book import CANONICAL_TABLES, Book
from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource
from rebalance_pipeline.validation.checks import (
    VALIDATION_CHECKS,
    expectations_check_result,
    status_check_result,
)

GROUP = "validation"
CANONICAL_INS = {name: dg.AssetIn(key=name) for name in CANONICAL_TABLES}


def book_from_inputs(
    context: dg.AssetExecutionContext | dg.OpExecutionContext, inputs: dict[str, pl.DataFrame]
) -> Book:
    return Book(as_of=partition_date(context.partition_key), **inputs)


@dg.multi_asset(
    outs={
        "data_quality_issues": dg.AssetOut(
            io_manager_key="warehouse",
            group_name=GROUP,
            description="One row per data-quality finding, with the accounts it touches.",
        ),
        "account_status": dg.AssetOut(
            io_manager_key="warehouse",
            group_name=GROUP,
            description="Every account of the date: ok or suspended, with reason codes.",
        ),
        "manual_queue": dg.AssetOut(
            io_manager_key="warehouse",
            group_name=GROUP,
            description="Suspended accounts with a high-priority cash request due: "
            "a person trades them by hand.",
        ),
    },
    ins=CANONICAL_INS,
    partitions_def=business_day_partitions(),
    check_specs=VALIDATION_CHECKS,
    can_subset=False,
)
def validation(
    context: dg.AssetExecutionContext, book: BookSource, **inputs: pl.DataFrame
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Pandera contracts and the data-quality rules over the canonical tables."""
    from rebalance_pipeline.validation import validate_book

    canonical = book_from_inputs(context, inputs)
    policy = book.policy(canonical.as_of)
    result = validate_book(canonical, policy)
    suspended = result.account_status.filter(pl.col("status") == "suspended").height
    by_check = result.findings.group_by("check").len().sort("check").rows()
    yield dg.Output(
        result.findings,
        output_name="data_quality_issues",
        metadata={"findings_by_check": dict(by_check)},
    )
    yield dg.Output(
        result.account_status,
        output_name="account_status",
        metadata={"suspended": suspended, "ok": result.account_status.height - suspended},
    )
    yield dg.Output(result.manual_queue, output_name="manual_queue")
    yield status_check_result(canonical, result)
    yield expectations_check_result(canonical, policy, book.home() / "data_docs")
