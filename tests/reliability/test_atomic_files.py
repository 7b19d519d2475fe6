"""A writer SIGKILLed mid-file leaves nothing a reader opens, and its leftovers go with the
next write; catalog builds running at once never collide."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
from pathlib import Path

import duckdb
import polars as pl

from rebalance_pipeline import storage

DAY = dt.date(2026, 3, 16)
FRAME = pl.DataFrame({"account_id": ["A1", "A2"], "quantity": [1.0, 2.5]})


def _killed_mid_write(root: str) -> None:
    """Start writing a partition, then die by SIGKILL with half a file on disk."""

    def half_then_die(self, path, **kwargs):
        Path(path).write_bytes(b"PAR1 half a parquet file")
        os.kill(os.getpid(), signal.SIGKILL)

    pl.DataFrame.write_parquet = half_then_die
    storage.write_partition(FRAME, "positions", DAY, Path(root))


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_a_writer_killed_mid_file_leaves_only_a_hidden_leftover_that_the_next_write_removes(
    tmp_path,
):
    storage.write_partition(FRAME.head(1), "positions", DAY, tmp_path)
    child = multiprocessing.get_context("spawn").Process(
        target=_killed_mid_write, args=(str(tmp_path),)
    )
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    folder = storage.partition_file("positions", DAY, tmp_path).parent
    assert _visible(folder) == ["data.parquet"]
    assert storage.read_partition("positions", DAY, tmp_path).equals(FRAME.head(1))
    assert any(p.name.startswith(".") for p in folder.iterdir())  # the dead writer's file

    storage.write_partition(FRAME, "positions", DAY, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["data.parquet"]
    assert storage.read_partition("positions", DAY, tmp_path).equals(FRAME)


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    folder = storage.partition_file("positions", DAY, tmp_path).parent
    folder.mkdir(parents=True)
    live = folder / f".data.parquet.{os.getppid()}.0a1b2c3d.tmp"
    live.write_bytes(b"being written by another run")
    storage.write_partition(FRAME, "positions", DAY, tmp_path)
    assert live.exists()


def _build_catalogs(root: str, times: int) -> None:
    for _ in range(times):
        storage.build_catalog(Path(root))


def test_catalog_builds_at_once_never_collide_nor_leave_files(tmp_path):
    for day in (DAY, DAY + dt.timedelta(days=1)):
        storage.write_partition(FRAME, "positions", day, tmp_path)
        storage.write_partition(FRAME, "holdings", day, tmp_path)
    spawn = multiprocessing.get_context("spawn")
    builders = [spawn.Process(target=_build_catalogs, args=(str(tmp_path), 10)) for _ in range(2)]
    for builder in builders:
        builder.start()
    for builder in builders:
        builder.join()
    assert [builder.exitcode for builder in builders] == [0, 0]
    assert _visible(tmp_path) == ["catalog.duckdb", "warehouse"]
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*.tmp*"))
    with duckdb.connect(str(storage.catalog_path(tmp_path)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM positions").fetchone() == (4,)
