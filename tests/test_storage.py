import datetime as dt
import os

import duckdb
import polars as pl

from rebalance_pipeline import storage


def test_partitions_are_written_atomically_and_catalogued(tmp_path):
    day = dt.date(2026, 3, 16)
    df = pl.DataFrame({"account_id": ["A1", "A2"], "quantity": [1.0, 2.5]})
    path = storage.write_partition(df, "positions", day, tmp_path)
    assert path == tmp_path / "warehouse/positions/trade_date=2026-03-16/data.parquet"
    assert not list(path.parent.glob("*.tmp"))
    assert storage.read_partition("positions", day, tmp_path).equals(df)
    assert storage.materialized_dates("positions", tmp_path) == [day]

    storage.write_partition(df.head(1), "positions", dt.date(2026, 3, 17), tmp_path)
    assert storage.build_catalog(tmp_path) == ["positions"]
    with duckdb.connect(str(storage.catalog_path(tmp_path)), read_only=True) as con:
        rows = con.execute(
            "SELECT count(*) FROM positions WHERE trade_date = DATE '2026-03-16'"
        ).fetchone()
    assert rows == (2,)


def test_same_frame_gives_the_same_bytes(tmp_path):
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    first = storage.write_partition(df, "t", dt.date(2026, 1, 2), tmp_path / "one").read_bytes()
    second = storage.write_partition(df, "t", dt.date(2026, 1, 2), tmp_path / "two").read_bytes()
    assert first == second


def test_a_partition_is_on_disk_before_it_takes_its_name(tmp_path, monkeypatch):
    """After a crash the partition's name holds either the old file or the whole new
    one: the new file's bytes are synced before the rename that publishes them."""
    events: list[tuple[str, str]] = []
    sync, rename = os.fsync, os.replace

    def recorded_fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        sync(fd)

    def recorded_replace(source, target) -> None:
        events.append(("replace", str(source)))
        rename(source, target)

    monkeypatch.setattr(os, "fsync", recorded_fsync)
    monkeypatch.setattr(os, "replace", recorded_replace)
    df = pl.DataFrame({"account_id": ["A1"], "quantity": [1.0]})
    storage.write_partition(df, "positions", dt.date(2026, 3, 16), tmp_path)
    [published] = [path for kind, path in events if kind == "replace"]
    assert ("fsync", published) in events[: events.index(("replace", published))]
