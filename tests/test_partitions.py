import datetime as dt
from pathlib import Path

import pytest

from rebalance_pipeline.calendar import (
    business_days_between,
    is_business_day,
    previous_business_days,
)
from rebalance_pipeline.partitions import business_day_partitions

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


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


def _book_with_drops(root: Path, *days: str) -> Path:
    for day in days:
        (root / "drops" / day).mkdir(parents=True)
    (root / "firm").mkdir()
    return root


def test_partitions_start_at_the_first_drop_date_of_the_book(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book_with_drops(tmp_path, "2026-03-03", "2026-03-02", "2026-03-04")
    monkeypatch.setenv("REBALANCE_BOOK", str(book))
    keys = business_day_partitions().get_partition_keys(current_time=dt.datetime(2026, 3, 10))
    assert keys[0] == "2026-03-02"
    monkeypatch.setenv("REBALANCE_BOOK", str(SAMPLE))
    first_sample_drop = min(p.name for p in (SAMPLE / "drops").iterdir() if p.is_dir())
    assert business_day_partitions().start.date().isoformat() == first_sample_drop
