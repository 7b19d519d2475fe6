"""Business days: the sessions of the New York Stock Exchange (exchange-calendars).

The one place the project asks which days are business days; the Dagster partitions,
the generator, ingest's lookback window and routing's counterfactual all use it.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings

CALENDAR = "XNYS"


@functools.cache
def exchange_calendar():  # -> exchange_calendars.ExchangeCalendar
    import exchange_calendars

    with warnings.catch_warnings():  # the library's own pandas deprecation notices
        warnings.simplefilter("ignore")
        return exchange_calendars.get_calendar(CALENDAR)


def is_business_day(day: dt.date) -> bool:
    return bool(exchange_calendar().is_session(day.isoformat()))


def business_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Sessions from start to end, both included."""
    sessions = exchange_calendar().sessions_in_range(start.isoformat(), end.isoformat())
    return [ts.date() for ts in sessions]


def sessions_ending(end: dt.date, count: int) -> list[dt.date]:
    """The last ``count`` sessions on or before ``end``, oldest first."""
    calendar = exchange_calendar()
    last = calendar.date_to_session(end.isoformat(), "previous")
    return [ts.date() for ts in calendar.sessions_window(last, -count)]


def sessions_from(start: dt.date, count: int) -> list[dt.date]:
    """The first ``count`` sessions on or after ``start``."""
    sessions = exchange_calendar().sessions
    position = sessions.searchsorted(start.isoformat())
    return [ts.date() for ts in sessions[position : position + count]]


def outside_sessions(start: dt.date, before: int, count: int) -> str | None:
    """Why the ``before`` sessions before ``start`` and the ``count`` sessions from it on
    are not all in the exchange calendar; None when they are."""
    sessions = exchange_calendar().sessions
    position = sessions.searchsorted(start.isoformat())  # the first session on or after it
    if position < before:
        first = sessions[0].date()
        return (
            f"{before} business days before {start} start before the exchange calendar's "
            f"first session {first}"
        )
    if position + count > len(sessions):
        last = sessions[-1].date()
        return (
            f"{count} business days from {start} run past the exchange calendar's last "
            f"session {last}"
        )
    return None


def previous_business_days(day: dt.date, count: int) -> list[dt.date]:
    """The ``count`` sessions strictly before ``day``, oldest first."""
    return sessions_ending(day - dt.timedelta(days=1), count) if count else []


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Sessions after ``start`` up to and including ``end`` (0 when end <= start)."""
    if end <= start:
        return 0
    return len(business_days(start + dt.timedelta(days=1), end))


def holidays(start: dt.date, end: dt.date) -> list[dt.date]:
    """Weekdays from start to end that are not sessions."""
    sessions = set(business_days(start, end))
    days = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5 and d not in sessions]


def outside_calendar(day: dt.date) -> str | None:
    """Why ``day`` cannot be run: it is not strictly inside the exchange calendar's range
    (a run needs the business days either side of it); None when it is."""
    calendar = exchange_calendar()
    first, last = calendar.first_session.date(), calendar.last_session.date()
    if not first < day < last:
        return f"{day} is outside the exchange calendar ({first} to {last})"
    return None


def not_a_business_day(day: dt.date) -> str | None:
    """Why ``day`` is no business date, naming the business days either side of it; None
    when it is one."""
    outside = outside_calendar(day)
    if outside is not None:
        return outside
    calendar = exchange_calendar()
    if is_business_day(day):
        return None
    kind = day.strftime("a %A") if day.weekday() >= 5 else "an exchange holiday"
    before = calendar.date_to_session(day.isoformat(), "previous").date()
    after = calendar.date_to_session(day.isoformat(), "next").date()
    return (
        f"{day} is not a business day ({kind}): "
        f"the previous business day is {before}, the next {after}"
    )
