"""Dagster asset checks of the date's tables, run inside the step that makes the tables.

A check of its own would be a step of its own, and every step is a process that loads the
code location (seconds each); so the checks are ``check_specs`` of the ingest and
validation assets and their results are yielded by those steps.

Blocking checks stop downstream use of a whole table (no accounts or no security master:
nothing can be valued; an account without a status must never reach trading).
Non-blocking checks report what is scoped to accounts: the pandera contract of each
table and the Great Expectations suites per custodian batch, with counts and a link to
the date's data docs (served over HTTP by ``make dagster-dev``, see ``data_docs``). Those
faults already suspend exactly the accounts they touch, so the rest of the book goes on.
"""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from rebalance_pipeline.book import Book, ingested
from rebalance_pipeline.partitions import daily_check
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation.contracts import CONTRACT_TABLES
from rebalance_pipeline.validation.validate import ValidationResult

CANONICAL_CHECKS = [
    daily_check(
        "accounts_present",
        asset=ingested("accounts"),
        blocking=True,
        description="The date has accounts.",
    ),
    daily_check(
        "security_master_present",
        asset="securities",
        blocking=True,
        description="The security master is not empty.",
    ),
    *(
        daily_check(
            "pandera_contract",
            asset=ingested(table),
            description=f"{table} against its pandera contract.",
        )
        for table in CONTRACT_TABLES
    ),
]
VALIDATION_CHECKS = [
    daily_check(
        "every_account_has_a_status",
        asset="account_status",
        blocking=True,
        description="Every account of the date has exactly one status row.",
    ),
    daily_check(
        "great_expectations",
        asset="data_quality_issues",
        description="Great Expectations suites per custodian batch (trailer counts and "
        "checksums, arrival before the cutoff, prices, positions, lots); data docs per date.",
    ),
]


def _present(asset: str, name: str, frame: pl.DataFrame) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset, check_name=name, passed=frame.height > 0, metadata={"rows": frame.height}
    )


def canonical_check_results(book: Book) -> Iterator[dg.AssetCheckResult]:
    from rebalance_pipeline.validation.contracts import failures_by_table

    yield _present(ingested("accounts"), "accounts_present", book.accounts)
    yield _present("securities", "security_master_present", book.securities)
    for table, failures in failures_by_table(book).items():
        yield dg.AssetCheckResult(
            asset_key=ingested(table),
            check_name="pandera_contract",
            passed=failures.is_empty(),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "failing_rows": failures.height,
                "failures_by_check": dict(failures.group_by("check").len().sort("check").rows()),
            },
        )


def status_check_result(book: Book, result: ValidationResult) -> dg.AssetCheckResult:
    status = result.account_status["account_id"]
    missing = sorted(set(book.accounts["account_id"]) - set(status))
    duplicated = int(status.is_duplicated().sum())
    return dg.AssetCheckResult(
        asset_key="account_status",
        check_name="every_account_has_a_status",
        passed=not missing and duplicated == 0,
        metadata={"missing": missing[:20], "missing_count": len(missing), "duplicated": duplicated},
    )


def expectations_check_result(book: Book, policy: Policy, docs_dir: Path) -> dg.AssetCheckResult:
    from rebalance_pipeline.validation.data_docs import docs_url
    from rebalance_pipeline.validation.expectations import run_expectations

    report = run_expectations(book, policy, docs_dir)
    return dg.AssetCheckResult(
        asset_key="data_quality_issues",
        check_name="great_expectations",
        passed=report.success,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "suites": len(report.suites),
            "failed_suites": [suite.batch for suite in report.suites if not suite.success],
            "unexpected_rows": sum(suite.unexpected_rows for suite in report.suites),
            "data_docs": dg.MetadataValue.url(docs_url(book.as_of)),
            "data_docs_file": dg.MetadataValue.path(str(report.docs_index.resolve())),
        },
    )
