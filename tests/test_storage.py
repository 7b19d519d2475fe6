import datetime as dt

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
