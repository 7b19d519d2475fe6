"""Reporting wiring: the daily report page of a date, after its trade files, and again
after each review session of the date."""

import dataclasses
import datetime as dt
from pathlib import Path

import dagster as dg

from rebalance_pipeline import storage
from rebalance_pipeline.daily_report.facts import ReportTables
from rebalance_pipeline.export.assets import report_outside_run
from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource

REPORT_DEPS = ("trade_files", *(field.name for field in dataclasses.fields(ReportTables)))


@dg.asset(
    group_name="reporting",
    partitions_def=business_day_partitions(),
    deps=list(dict.fromkeys(REPORT_DEPS)),
    kinds={"html"},
    description="The date's report for people, one self-contained HTML page under "
    "$REBALANCE_HOME/reports/YYYY-MM-DD.html (suspensions by cause and file, manual "
    "queue, released / awaiting review / rejected, money, plots, what changed since the "
    "previous business day); the same content as Markdown in the metadata. "
    "Each review session of the date builds it again with its decisions.",
)
def daily_report(context: dg.AssetExecutionContext, book: BookSource) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata=write_report_page(partition_date(context.partition_key), book.home())
    )


def write_report_page(day: dt.date, home: Path) -> dict[str, dg.MetadataValue]:
    """Write the page of ``day`` from the stored tables under ``home``; the asset metadata
    of what was written (its path and its Markdown)."""
    from rebalance_pipeline.daily_report.page import write_daily_report

    path, report = write_daily_report(day, home)
    return {
        "path": dg.MetadataValue.path(str(path)),
        "report": dg.MetadataValue.md(report.markdown()),
    }


def report_after_review(dagster_home: Path, day: dt.date, home: Path) -> None:
    """Build the page of ``day`` again with the decisions just recorded, and record it in
    the instance as a materialization of ``daily_report`` outside any run; nothing when
    the date's run wrote no page (tables of a date stored without the report)."""
    if not storage.report_file(day, home).exists():
        return
    report_outside_run(
        dagster_home,
        dg.AssetMaterialization(
            asset_key="daily_report",
            partition=day.isoformat(),
            description="built again after a review session",
            metadata=write_report_page(day, home),
        ),
    )
