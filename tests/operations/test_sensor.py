"""The drop-folder sensor on small drop folders: one run per complete drop, keyed by content."""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from rebalance_pipeline.calendar import previous_business_days
from rebalance_pipeline.operations.config import OperationsConfig
from rebalance_pipeline.operations.sensors import (
    DIGEST_TAG,
    MISSING_TAG,
    SENSOR_NAME,
    FileHasher,
    drop_run_requests,
    watched_days,
)
from rebalance_pipeline.resources import BookSource

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
DAY = dt.date(2026, 11, 24)  # a Tuesday; its cutoff is 06:00 New York on Wednesday
CONFIG = OperationsConfig(drop_cutoff=dt.time(6, 0), sensor_lookback_business_days=2)
BEFORE_CUTOFF = dt.datetime(2026, 11, 25, 5, 59, tzinfo=NEW_YORK)
AT_CUTOFF = dt.datetime(2026, 11, 25, 6, 0, tzinfo=NEW_YORK)
ALDER = ("cash", "corporate_actions", "lots", "positions", "prices", "transactions")
BIRCH = ("CASH", "CORPACT", "LOTS", "POSITIONS", "PRICES", "TRANSACTIONS")


def owed(day: dt.date) -> list[str]:
    """The twelve file paths the two custodians owe for ``day``, spelled out by hand."""
    folder = f"drops/{day.isoformat()}"
    alder = [f"{folder}/alder/{kind}_{day:%Y%m%d}.csv" for kind in ALDER]
    birch = [f"{folder}/birch/{kind}.{day:%y%m%d}.dat" for kind in BIRCH]
    return alder + birch


def drop(book: Path, day: dt.date, skip: str | None = None) -> dict[str, bytes]:
    """Write every owed file of ``day`` (but ``skip``) with content naming the file."""
    written = {}
    for relative in owed(day):
        if skip and relative.endswith(skip):
            continue
        path = book / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        written[relative] = f"content of {relative}\n".encode()
        path.write_bytes(written[relative])
    return written


def expected_key(day: dt.date, files: dict[str, bytes], missing: tuple[str, ...] = ()) -> str:
    lines = [f"{p} {hashlib.sha256(b).hexdigest()}" for p, b in files.items()]
    lines += [f"{p} -" for p in missing]
    return f"{day.isoformat()}:{hashlib.sha256(chr(10).join(sorted(lines)).encode()).hexdigest()}"


def requests(result: dg.SensorResult | dg.SkipReason) -> list[dg.RunRequest]:
    return list(result.run_requests or []) if isinstance(result, dg.SensorResult) else []


def test_the_sensor_watches_the_last_sessions_whose_partition_exists() -> None:
    config = OperationsConfig(sensor_lookback_business_days=3)
    # Friday 10:00 New York: Friday's partition opens at midnight UTC; Thursday was a holiday
    friday_morning = dt.datetime(2026, 11, 27, 10, tzinfo=NEW_YORK)
    assert watched_days(friday_morning, config) == [
        dt.date(2026, 11, 23),
        dt.date(2026, 11, 24),
        dt.date(2026, 11, 25),
    ]
    friday_night = dt.datetime(2026, 11, 27, 19, 0, tzinfo=NEW_YORK)  # 00:00 UTC Saturday
    assert watched_days(friday_night, config) == [
        dt.date(2026, 11, 24),
        dt.date(2026, 11, 25),
        dt.date(2026, 11, 27),
    ]


def test_a_complete_drop_requests_exactly_one_run_keyed_by_its_content(tmp_path: Path) -> None:
    files = drop(tmp_path, DAY)
    [request] = requests(drop_run_requests(tmp_path, BEFORE_CUTOFF, CONFIG, FileHasher()))
    assert request.partition_key == "2026-11-24"
    assert request.run_key == expected_key(DAY, files)
    assert request.tags[DIGEST_TAG] == request.run_key.split(":")[1]
    assert MISSING_TAG not in request.tags


def test_an_incomplete_drop_waits_until_the_cutoff(tmp_path: Path) -> None:
    files = drop(tmp_path, DAY, skip="CASH.261124.dat")
    assert len(files) == 11
    waiting = drop_run_requests(tmp_path, BEFORE_CUTOFF, CONFIG, FileHasher())
    assert isinstance(waiting, dg.SkipReason)
    assert "2026-11-24 (11/12 files)" in waiting.skip_message
    [request] = requests(drop_run_requests(tmp_path, AT_CUTOFF, CONFIG, FileHasher()))
    assert request.partition_key == "2026-11-24"
    missing = ("drops/2026-11-24/birch/CASH.261124.dat",)
    assert request.run_key == expected_key(DAY, files, missing)
    assert request.tags[MISSING_TAG] == "1"


def test_an_empty_date_never_starts_even_after_the_cutoff(tmp_path: Path) -> None:
    result = drop_run_requests(tmp_path, AT_CUTOFF, CONFIG, FileHasher())
    assert isinstance(result, dg.SkipReason)
    assert "2026-11-24 (0/12 files)" in result.skip_message


def test_an_unchanged_folder_gives_the_same_run_key_without_rereading(tmp_path: Path) -> None:
    drop(tmp_path, DAY)
    hasher = FileHasher()
    [first] = requests(drop_run_requests(tmp_path, BEFORE_CUTOFF, CONFIG, hasher))
    assert hasher.files_read == 12
    [again] = requests(drop_run_requests(tmp_path, AT_CUTOFF, CONFIG, hasher))
    assert again.run_key == first.run_key  # Dagster launches one run per run key
    assert hasher.files_read == 12


def test_a_corrected_redrop_requests_a_new_run(tmp_path: Path) -> None:
    files = drop(tmp_path, DAY)
    hasher = FileHasher()
    [first] = requests(drop_run_requests(tmp_path, BEFORE_CUTOFF, CONFIG, hasher))
    corrected = "drops/2026-11-24/alder/positions_20261124.csv"
    files[corrected] = b"account_id,symbol,quantity\nA1,VTI,10\n"
    (tmp_path / corrected).write_bytes(files[corrected])
    [second] = requests(drop_run_requests(tmp_path, BEFORE_CUTOFF, CONFIG, hasher))
    assert second.partition_key == first.partition_key
    assert second.run_key != first.run_key
    assert second.run_key == expected_key(DAY, files)
    assert hasher.files_read == 13  # only the changed file was hashed again


def test_a_late_file_after_the_cutoff_run_requests_a_new_run(tmp_path: Path) -> None:
    drop(tmp_path, DAY, skip="cash_20261124.csv")
    [partial] = requests(drop_run_requests(tmp_path, AT_CUTOFF, CONFIG, FileHasher()))
    files = drop(tmp_path, DAY)
    [complete] = requests(drop_run_requests(tmp_path, AT_CUTOFF, CONFIG, FileHasher()))
    assert complete.run_key != partial.run_key
    assert complete.run_key == expected_key(DAY, files)


def test_the_sensor_definition_reads_the_book_resource(
    tmp_path: Path, make_defs: Callable[..., dg.Definitions]
) -> None:
    """The real sensor, evaluated now, on a complete drop of the latest session to date."""
    # the latest session whose partition exists: its UTC day is over
    [latest] = previous_business_days(dt.datetime.now(dt.UTC).date(), 1)
    files = drop(tmp_path, latest)
    book = BookSource(root=str(tmp_path))
    defs = make_defs(book=book)
    context = dg.build_sensor_context(definitions=defs, resources={"book": book})
    tick = defs.resolve_sensor_def(SENSOR_NAME).evaluate_tick(context)
    assert [(r.partition_key, r.run_key) for r in tick.run_requests] == [
        (latest.isoformat(), expected_key(latest, files))
    ]


def test_a_folder_in_place_of_a_file_counts_as_missing(tmp_path: Path) -> None:
    files = drop(tmp_path, DAY, skip="prices_20261124.csv")
    (tmp_path / "drops/2026-11-24/alder/prices_20261124.csv").mkdir()
    result = drop_run_requests(tmp_path, BEFORE_CUTOFF, CONFIG, FileHasher())
    assert isinstance(result, dg.SkipReason)
    assert "2026-11-24 (11/12 files)" in result.skip_message
    [request] = requests(drop_run_requests(tmp_path, AT_CUTOFF, CONFIG, FileHasher()))
    missing = ("drops/2026-11-24/alder/prices_20261124.csv",)
    assert request.run_key == expected_key(DAY, files, missing)
