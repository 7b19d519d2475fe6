"""Business-day partitions: exactly the sessions of the New York Stock Exchange.

Weekends and exchange holidays are not partitions. Dagster's daily partitions take the
weekends as cron exclusions and each holiday (from ``calendar``) as an excluded datetime.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings

import dagster as dg

from rebalance_pipeline.calendar import exchange_calendar, holidays

FIRST_PARTITION = dt.date(2025, 1, 2)
PARTITION_FORMAT = "%Y-%m-%d"
JOB_NAME = "daily_rebalance"  # the job that materializes one business date
PARTITION_TAG = "dagster/partition"  # the run tag naming the date a run materializes


@functools.cache
def business_day_partitions() -> dg.DailyPartitionsDefinition:
    last = exchange_calendar().last_session.date()
    excluded = [dt.datetime.combine(d, dt.time(0, 0)) for d in holidays(FIRST_PARTITION, last)]
    return dg.DailyPartitionsDefinition(
        start_date=FIRST_PARTITION.isoformat(),
        fmt=PARTITION_FORMAT,
        exclusions=["0 0 * * 6", "0 0 * * 0", *excluded],
    )


def partition_date(partition_key: str) -> dt.date:
    return dt.datetime.strptime(partition_key, PARTITION_FORMAT).date()


def daily_check(name: str, **spec: object) -> dg.AssetCheckSpec:
    """An asset check of a business-day asset, evaluated per partition like the asset: the
    UI shows its result for each date. Checks with partitions are a Dagster preview; its
    warning is dropped here, the one place they are made."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.PreviewWarning)
        return dg.AssetCheckSpec(name, partitions_def=business_day_partitions(), **spec)
