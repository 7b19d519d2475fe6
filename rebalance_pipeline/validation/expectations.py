"""Great Expectations suites: the batch-level report of a date that a person opens.

The rules (``*_rules.py``, ``contracts.py``) decide which accounts a fault touches; these
suites say, per batch, whether it passed, and GX renders that as data docs. Both read
the same book with the same policy thresholds, so they agree on what is a fault.

GX 1.x reads pandas, not Polars: every batch is prepared in Polars and handed to GX as
``df.to_pandas()`` through an ephemeral context. GX is imported inside
:func:`run_expectations` only (it takes seconds to import).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation.data_docs import make_offline
from rebalance_pipeline.validation.file_rules import file_deadline
from rebalance_pipeline.validation.security_rules import splits_effective_today

SITE_NAME = "rebalance_validation"


@dataclasses.dataclass(frozen=True)
class SuiteResult:
    batch: str  # e.g. custodian_files.C1, prices, positions, lots
    success: bool
    evaluated_expectations: int
    failed_expectations: int
    unexpected_rows: int  # failing values summed over the suite's expectations


@dataclasses.dataclass(frozen=True)
class ExpectationReport:
    suites: list[SuiteResult]
    docs_index: Path  # index.html of the date's data docs

    @property
    def success(self) -> bool:
        return all(suite.success for suite in self.suites)


# --------------------------------------------------------------------------------------
# Batches (plain Polars, one frame per batch)
# --------------------------------------------------------------------------------------
def file_batches(book: Book, policy: Policy) -> dict[str, pl.DataFrame]:
    """One batch per custodian: its files with trailer, checksum and arrival verdicts."""
    deadline = file_deadline(policy.validation)
    files = book.source_files.select(
        "custodian",
        "source_file",
        "kind",
        "status",
        (pl.col("trailer_rows").is_null() | (pl.col("trailer_rows") == pl.col("detail_rows")))
        .fill_null(False)
        .alias("trailer_count_matches"),
        (
            pl.col("trailer_checksum").is_null()
            | (pl.col("trailer_checksum") == pl.col("computed_checksum"))
        )
        .fill_null(False)
        .alias("trailer_checksum_matches"),
        (pl.col("arrived_at").is_null() | (pl.col("arrived_at") <= deadline)).alias(
            "arrived_before_cutoff"
        ),
        (
            pl.col("history_median_rows").is_null()
            | (
                pl.col("detail_rows").fill_null(0)
                >= (1 - policy.validation.row_count_tolerance) * pl.col("history_median_rows")
            )
        ).alias("rows_within_history"),
    ).sort("source_file")
    return {
        f"custodian_files.{custodian}": frame
        for (custodian,), frame in sorted(
            files.partition_by("custodian", as_dict=True).items(), key=lambda kv: str(kv[0])
        )
    }


def price_batch(book: Book) -> pl.DataFrame:
    """Today's closes with the change from the previous close, split-adjusted."""
    previous = (
        book.price_history.filter(pl.col("price_date") < book.as_of)
        .drop_nulls(["security_id", "close"])
        .sort("security_id", "price_date", "custodian")
        .group_by("security_id")
        .agg(pl.col("close").last().alias("previous_close"))
    )
    return (
        book.prices.join(previous, on="security_id", how="left")
        .join(splits_effective_today(book), on="security_id", how="left")
        .select(
            "security_id",
            "symbol",
            "close",
            (pl.col("close") * pl.col("ratio").fill_null(1.0) / pl.col("previous_close") - 1).alias(
                "change"
            ),
        )
        .sort("security_id", "symbol", nulls_last=True)
    )


def holding_batch(frame: pl.DataFrame, book: Book) -> pl.DataFrame:
    """Positions or lots with whether their security is in the security master."""
    known = book.securities.get_column("security_id")
    return frame.select(
        "account_id",
        "security_id",
        "quantity",
        pl.col("security_id").is_in(known.implode()).fill_null(False).alias("security_known"),
    ).sort("account_id", "security_id", nulls_last=True)


def batches(book: Book, policy: Policy) -> dict[str, pl.DataFrame]:
    return {
        **file_batches(book, policy),
        "prices": price_batch(book),
        "positions": holding_batch(book.positions, book),
        "lots": holding_batch(book.lots, book),
    }


# --------------------------------------------------------------------------------------
# Suites
# --------------------------------------------------------------------------------------
def _expectations(gx: Any, batch: str, policy: Policy) -> list[Any]:
    e = gx.expectations
    if batch.startswith("custodian_files."):
        return [
            e.ExpectColumnValuesToBeInSet(column="status", value_set=["ok"]),
            e.ExpectColumnValuesToBeInSet(column="trailer_count_matches", value_set=[True]),
            e.ExpectColumnValuesToBeInSet(column="trailer_checksum_matches", value_set=[True]),
            e.ExpectColumnValuesToBeInSet(column="arrived_before_cutoff", value_set=[True]),
            e.ExpectColumnValuesToBeInSet(column="rows_within_history", value_set=[True]),
        ]
    if batch == "prices":
        jump = policy.validation.price_jump
        return [
            e.ExpectColumnValuesToNotBeNull(column="close"),
            e.ExpectColumnValuesToBeBetween(column="close", min_value=0, strict_min=True),
            e.ExpectColumnValuesToBeBetween(column="change", min_value=-jump, max_value=jump),
        ]
    return [
        e.ExpectColumnValuesToNotBeNull(column="quantity"),
        e.ExpectColumnValuesToBeBetween(column="quantity", min_value=0),
        e.ExpectColumnValuesToBeInSet(column="security_known", value_set=[True]),
    ]


def _summarise(batch: str, result: Any) -> SuiteResult:
    stats = result.statistics
    unexpected = sum(int(r.result.get("unexpected_count") or 0) for r in result.results)
    return SuiteResult(
        batch=batch,
        success=bool(result.success),
        evaluated_expectations=int(stats["evaluated_expectations"]),
        failed_expectations=int(stats["unsuccessful_expectations"]),
        unexpected_rows=unexpected,
    )


def run_expectations(book: Book, policy: Policy, docs_dir: Path) -> ExpectationReport:
    """Run every suite on the book and write GX data docs under
    ``docs_dir/<as_of>/`` (a base directory of the date's own, so parallel dates never
    share an index). Returns per-suite results and the path of the docs index."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    base = Path(docs_dir) / book.as_of.isoformat()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # quiet step logs
    context.add_data_docs_site(
        SITE_NAME,
        {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(base),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_pandas("book")
    # a fixed run time: a re-run of the date rewrites the same pages
    run_time = dt.datetime.combine(book.as_of, dt.time(), tzinfo=dt.UTC)
    results = []
    for batch, frame in batches(book, policy).items():
        definition = source.add_dataframe_asset(batch).add_batch_definition_whole_dataframe(batch)
        suite = context.suites.add(
            gx.ExpectationSuite(name=batch, expectations=_expectations(gx, batch, policy))
        )
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=batch, data=definition, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=batch,
                validation_definitions=[validation],
                result_format="COMPLETE",
            )
        )
        outcome = checkpoint.run(
            batch_parameters={"dataframe": frame.to_pandas()},
            run_id=RunIdentifier(run_name=book.as_of.isoformat(), run_time=run_time),
        )
        results += [_summarise(batch, r) for r in outcome.run_results.values()]
    context.build_data_docs(site_names=[SITE_NAME])  # once for every suite, not per checkpoint
    make_offline(base)
    return ExpectationReport(suites=results, docs_index=base / "index.html")
