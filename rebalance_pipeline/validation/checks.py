"""Dagster asset checks of the date's tables (partitioned like the assets they check).

Blocking checks stop downstream use of a whole table (no accounts or no security master:
nothing can be valued; an account without a status must never reach trading).
Non-blocking checks report what is scoped to accounts: the pandera contract of each
table and the Great Expectations suites per custodian batch, with counts and a link to
the date's data docs. Those faults already suspend exactly the accounts they touch, so
the rest of the book goes on.
"""

import dagster as dg
import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.book import CANONICAL_TABLES, Book
from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource
from rebalance_pipeline.validation.contracts import CONTRACT_TABLES

GX_ASSET = "source_files"


def _day(context: dg.AssetCheckExecutionContext):
    return partition_date(context.op_execution_context.partition_key)


@dg.asset_check(
    asset="accounts",
    blocking=True,
    partitions_def=business_day_partitions(),
    description="The date has accounts.",
)
def accounts_present(accounts: pl.DataFrame) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=accounts.height > 0, metadata={"accounts": accounts.height})


@dg.asset_check(
    asset="securities",
    blocking=True,
    partitions_def=business_day_partitions(),
    description="The security master is not empty.",
)
def security_master_present(securities: pl.DataFrame) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=securities.height > 0, metadata={"securities": securities.height}
    )


@dg.asset_check(
    asset="account_status",
    blocking=True,
    partitions_def=business_day_partitions(),
    additional_ins={"accounts": dg.AssetIn("accounts")},
    description="Every account of the date has exactly one status row.",
)
def every_account_has_a_status(
    account_status: pl.DataFrame, accounts: pl.DataFrame
) -> dg.AssetCheckResult:
    missing = sorted(set(accounts["account_id"]) - set(account_status["account_id"]))
    duplicated = int(account_status["account_id"].is_duplicated().sum())
    return dg.AssetCheckResult(
        passed=not missing and duplicated == 0,
        metadata={"missing": missing[:20], "missing_count": len(missing), "duplicated": duplicated},
    )


def pandera_contract(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=table,
        name="pandera_contract",
        partitions_def=business_day_partitions(),
        description=f"{table} against its pandera contract (failing rows by check).",
    )
    def _check(context: dg.AssetCheckExecutionContext, frame: pl.DataFrame):
        from rebalance_pipeline.validation.contracts import table_failures

        failures = table_failures(table, frame, _day(context))
        by_check = dict(failures.group_by("check").len().sort("check").rows())
        return dg.AssetCheckResult(
            passed=failures.is_empty(),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"failing_rows": failures.height, "failures_by_check": by_check},
        )

    return _check


@dg.asset_check(
    asset=GX_ASSET,
    name="great_expectations",
    partitions_def=business_day_partitions(),
    additional_deps=[t for t in CANONICAL_TABLES if t != GX_ASSET],
    description="Great Expectations suites per custodian batch (trailer counts and checksums, "
    "arrival before the cutoff, prices, positions, lots); data docs per date.",
)
def great_expectations_suites(
    context: dg.AssetCheckExecutionContext, book: BookSource
) -> dg.AssetCheckResult:
    """Reads the date's canonical tables from the warehouse (a check takes one input
    asset's partition; the suites need the whole book)."""
    from rebalance_pipeline.validation.expectations import run_expectations

    day = _day(context)
    tables = {name: storage.read_partition(name, day, book.home()) for name in CANONICAL_TABLES}
    report = run_expectations(
        Book(as_of=day, **tables), book.policy(day), book.home() / "data_docs"
    )
    failed = [suite.batch for suite in report.suites if not suite.success]
    return dg.AssetCheckResult(
        passed=report.success,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "suites": len(report.suites),
            "failed_suites": failed,
            "unexpected_rows": sum(suite.unexpected_rows for suite in report.suites),
            "data_docs": dg.MetadataValue.url(report.docs_index.resolve().as_uri()),
        },
    )


CHECKS = [
    accounts_present,
    security_master_present,
    every_account_has_a_status,
    *(pandera_contract(table) for table in CONTRACT_TABLES),
    great_expectations_suites,
]
