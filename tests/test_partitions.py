import datetime as dt

from rebalance_pipeline.calendar import (
    business_days_between,
    is_business_day,
    previous_business_days,
)
from rebalance_pipeline.partitions import business_day_partitions


def test_partitions_are_exactly_the_exchange_sessions():
    keys = business_day_partitions().get_partition_keys(current_time=dt.datetime(2026, 1, 31))
    assert "2025-12-25" not in keys  # Christmas
    assert "2026-01-19" not in keys  # Martin Luther King Jr. Day
    assert "2026-01-17" not in keys  # Saturday
    assert "2026-01-16" in keys and "2026-01-20" in keys
    assert all(is_business_day(dt.date.fromisoformat(k)) for k in keys[-40:])


def test_business_day_arithmetic_skips_weekends_and_holidays():
    assert business_days_between(dt.date(2026, 1, 16), dt.date(2026, 1, 20)) == 1
    assert previous_business_days(dt.date(2026, 1, 20), 2) == [
        dt.date(2026, 1, 15),
        dt.date(2026, 1, 16),
    ]
