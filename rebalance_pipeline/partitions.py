"""Business-day partitions: exactly the sessions of the New York Stock Exchange.

Weekends and exchange holidays are not partitions. Dagster's daily partitions take the
weekends as cron exclusions and each holiday (from ``calendar``) as an excluded datetime.
They start at the first drop date of the book the code location is loaded with
(``$REBALANCE_BOOK``), so the UI lists no months of dates that have no files.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from pathlib import Path

import dagster as dg

from rebalance_pipeline import storage
from rebalance_pipeline.calendar import exchange_calendar, holidays

# the first partition of a code location loaded where no book is (it still loads)
FALLBACK_FIRST_PARTITION = dt.date(2025, 1, 2)
PARTITION_FORMAT = "%Y-%m-%d"
JOB_NAME = "daily_rebalance"  # the job that materializes one business date
PARTITION_TAG = "dagster/partition"  # the run tag naming the date a run materializes


def first_partition(book: Path) -> dt.date:
    """The book's first drop date (the fallback for a folder without drops)."""
    try:
        return storage.drop_dates(book)[0]
    except FileNotFoundError:
        return FALLBACK_FIRST_PARTITION


def before_first_partition(day: dt.date, book: Path) -> str | None:
    """Why ``day`` is no date of ``book`` (before its first drop), or None."""
    first = first_partition(book)
    if day < first:
        return f"{day.isoformat()} is before the first drop date of {book}, {first.isoformat()}"
    return None


def business_day_partitions() -> dg.DailyPartitionsDefinition:
    """The business days from the first drop date of ``$REBALANCE_BOOK``."""
    return _partitions_from(first_partition(storage.book_root()))


@functools.cache
def _partitions_from(first: dt.date) -> dg.DailyPartitionsDefinition:
    last = exchange_calendar().last_session.date()
    excluded = [dt.datetime.combine(d, dt.time(0, 0)) for d in holidays(first, last)]
    return dg.DailyPartitionsDefinition(
        start_date=first.isoformat(),
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
