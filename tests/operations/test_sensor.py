"""The drop-folder sensor on small drop folders: one run per complete drop, keyed by content."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from rebalance_pipeline.calendar import previous_business_days
from rebalance_pipeline.export.release_tag import RELEASE_MODE_TAG
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


def run_key(book: Path, now: dt.datetime = AT_CUTOFF) -> str:
    """The run key of the one run the drop folder of ``book`` requests at ``now``."""
    [request] = requests(drop_run_requests(book, now, CONFIG, FileHasher()))
    return request.run_key


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
    drop(tmp_path / "one", DAY)
    [request] = requests(drop_run_requests(tmp_path / "one", BEFORE_CUTOFF, CONFIG, FileHasher()))
    assert request.partition_key == "2026-11-24"
    day, digest = request.run_key.split(":")
    assert day == "2026-11-24" and re.fullmatch("[0-9a-f]{64}", digest)
    assert request.tags[DIGEST_TAG] == digest
    assert MISSING_TAG not in request.tags
    # the same bytes in another book folder: the same run
    drop(tmp_path / "two", DAY)
    assert run_key(tmp_path / "two", BEFORE_CUTOFF) == request.run_key


def test_an_incomplete_drop_waits_until_the_cutoff(tmp_path: Path) -> None:
    files = drop(tmp_path, DAY, skip="CASH.261124.dat")
    assert len(files) == 11
    waiting = drop_run_requests(tmp_path, BEFORE_CUTOFF, CONFIG, FileHasher())
    assert isinstance(waiting, dg.SkipReason)
    assert "2026-11-24 (11/12 files)" in waiting.skip_message
    [request] = requests(drop_run_requests(tmp_path, AT_CUTOFF, CONFIG, FileHasher()))
    assert request.partition_key == "2026-11-24"
    assert request.tags[MISSING_TAG] == "1"
    # the same file missing elsewhere is the same run, another file missing another run
    drop(tmp_path / "same", DAY, skip="CASH.261124.dat")
    assert run_key(tmp_path / "same") == request.run_key
    drop(tmp_path / "other", DAY, skip="PRICES.261124.dat")
    assert run_key(tmp_path / "other") != request.run_key


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
    (tmp_path / corrected).write_bytes(b"account_id,symbol,quantity\nA1,VTI,10\n")
    [second] = requests(drop_run_requests(tmp_path, BEFORE_CUTOFF, CONFIG, hasher))
    assert second.partition_key == first.partition_key
    assert second.run_key != first.run_key
    assert hasher.files_read == 13  # only the changed file was hashed again
    # the key follows the content: the original bytes again are the first run again
    (tmp_path / corrected).write_bytes(files[corrected])
    assert run_key(tmp_path, BEFORE_CUTOFF) == first.run_key


def test_a_late_file_after_the_cutoff_run_requests_a_new_run(tmp_path: Path) -> None:
    drop(tmp_path, DAY, skip="cash_20261124.csv")
    partial = run_key(tmp_path)
    drop(tmp_path, DAY)
    assert run_key(tmp_path) != partial


def test_the_sensor_definition_reads_the_book_resource(
    tmp_path: Path, make_defs: Callable[..., dg.Definitions]
) -> None:
    """The real sensor, evaluated now, on a complete drop of the latest session to date."""
    # the latest session whose partition exists: its UTC day is over
    [latest] = previous_business_days(dt.datetime.now(dt.UTC).date(), 1)
    drop(tmp_path, latest)
    book = BookSource(root=str(tmp_path))
    defs = make_defs(book=book)
    context = dg.build_sensor_context(definitions=defs, resources={"book": book})
    tick = defs.resolve_sensor_def(SENSOR_NAME).evaluate_tick(context)
    [request] = tick.run_requests
    assert request.partition_key == latest.isoformat()
    assert request.run_key == run_key(tmp_path, dt.datetime.now(NEW_YORK))
    assert request.tags[RELEASE_MODE_TAG] == "release"  # the book's latest drop


def test_a_complete_drop_behind_the_latest_one_is_tagged_replay(tmp_path: Path) -> None:
    earlier = previous_business_days(DAY, 1)[0]
    drop(tmp_path, earlier)
    drop(tmp_path, DAY)
    result = drop_run_requests(tmp_path, AT_CUTOFF, CONFIG, FileHasher())
    tags = {r.partition_key: r.tags[RELEASE_MODE_TAG] for r in requests(result)}
    assert tags == {earlier.isoformat(): "replay", DAY.isoformat(): "release"}


def test_a_folder_in_place_of_a_file_counts_as_missing(tmp_path: Path) -> None:
    drop(tmp_path, DAY, skip="prices_20261124.csv")
    (tmp_path / "drops/2026-11-24/alder/prices_20261124.csv").mkdir()
    result = drop_run_requests(tmp_path, BEFORE_CUTOFF, CONFIG, FileHasher())
    assert isinstance(result, dg.SkipReason)
    assert "2026-11-24 (11/12 files)" in result.skip_message
    # the same run as the folder without that file
    drop(tmp_path / "absent", DAY, skip="prices_20261124.csv")
    assert run_key(tmp_path) == run_key(tmp_path / "absent")
