"""Business-day partitions: exactly the sessions of the New York Stock Exchange.

Weekends and exchange holidays are not partitions. Dagster's daily partitions take the
weekends as cron exclusions and each holiday as an excluded datetime; the holidays come
from exchange-calendars, a maintained calendar, never from a hand-written list.
"""

from __future__ import annotations

import datetime as dt
import functools

import dagster as dg

CALENDAR = "XNYS"
FIRST_PARTITION = dt.date(2025, 1, 2)
PARTITION_FORMAT = "%Y-%m-%d"


@functools.cache
def exchange_calendar():  # -> exchange_calendars.ExchangeCalendar
    import exchange_calendars

    return exchange_calendars.get_calendar(CALENDAR, start=FIRST_PARTITION.isoformat())


def is_business_day(day: dt.date) -> bool:
    return bool(exchange_calendar().is_session(day.isoformat()))


def business_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Sessions from start to end, both included."""
    sessions = exchange_calendar().sessions_in_range(start.isoformat(), end.isoformat())
    return [ts.date() for ts in sessions]


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Sessions after ``start`` up to and including ``end`` (0 when end <= start)."""
    if end <= start:
        return 0
    return len(business_days(start + dt.timedelta(days=1), end))


def previous_business_days(day: dt.date, count: int) -> list[dt.date]:
    """The ``count`` sessions before ``day`` (oldest first)."""
    cal = exchange_calendar()
    first = cal.first_session.date()
    window = business_days(max(first, day - dt.timedelta(days=2 * count + 10)), day)
    return [d for d in window if d < day][-count:]


def holidays(start: dt.date, end: dt.date) -> list[dt.date]:
    """Weekdays from start to end that are not sessions."""
    sessions = set(business_days(start, end))
    days = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5 and d not in sessions]


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
