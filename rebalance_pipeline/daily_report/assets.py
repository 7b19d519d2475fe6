"""Reporting wiring: the daily report page of a date, after its trade files."""

import dataclasses

import dagster as dg

from rebalance_pipeline.daily_report.facts import ReportTables
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
    "`rebalance report --date D` builds it again after a review.",
)
def daily_report(context: dg.AssetExecutionContext, book: BookSource) -> dg.MaterializeResult:
    from rebalance_pipeline.daily_report.page import write_daily_report

    path, report = write_daily_report(partition_date(context.partition_key), book.home())
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "report": dg.MetadataValue.md(report.markdown()),
        }
    )
