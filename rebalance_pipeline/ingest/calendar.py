"""Business days of the book: XNYS sessions."""

from __future__ import annotations

import datetime as dt
import functools


@functools.cache
def _xnys():
    import exchange_calendars

    return exchange_calendars.get_calendar("XNYS")


def sessions_ending(end: dt.date, count: int) -> list[dt.date]:
    """The last ``count`` sessions on or before ``end``."""
    calendar = _xnys()
    last = calendar.date_to_session(end, "previous")
    return [ts.date() for ts in calendar.sessions_window(last, -count)]


def sessions_before(day: dt.date, count: int) -> list[dt.date]:
    """The ``count`` sessions strictly before ``day``, oldest first."""
    return sessions_ending(day - dt.timedelta(days=1), count) if count else []
