"""Where outputs live: atomic Parquet per asset per partition, and a DuckDB catalog of views.

Layout under the home folder (``REBALANCE_HOME``, default ``./var``)::

    warehouse/<table>/trade_date=YYYY-MM-DD/data.parquet   every asset output, Hive layout
    trades/YYYY-MM-DD/                                      dated trade files + manifest
    problems/...                                            stored optimizer inputs
    data_docs/YYYY-MM-DD/                                   Great Expectations data docs
    reports/YYYY-MM-DD.html                                 the daily report (self-contained)
    catalog.duckdb                                          views over the warehouse

Each file is written to a hidden temporary name in the same folder and renamed, so a
crashed (even SIGKILLed) run never leaves half a file under a name a reader opens, and runs
of different dates never share a file. A temporary name carries its writer's process id:
the next write into the folder removes those a dead process left behind. DuckDB only reads
the Parquet files; the catalog database is rebuilt under a lock, one writer at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import polars as pl

HOME_ENV = "REBALANCE_HOME"
BOOK_ENV = "REBALANCE_BOOK"
DEFAULT_BOOK = "data/sample"
PARTITION_COLUMN = "trade_date"


def home() -> Path:
    return Path(os.environ.get(HOME_ENV, "var")).resolve()


def book_root() -> Path:
    """The firm's book on disk (``firm/`` inputs and ``drops/``)."""
    return Path(os.environ.get(BOOK_ENV, DEFAULT_BOOK)).resolve()


HOME_BOOK = "book.txt"  # the book whose tables the home holds, written by its first run


class HomeOfAnotherBookError(ValueError):
    """A run of one book into a home that holds another book's tables."""


def home_book(root: Path | None = None) -> Path | None:
    """The book whose tables the home holds; None before its first run."""
    marker = (root or home()) / HOME_BOOK
    return Path(marker.read_text(encoding="utf-8").strip()) if marker.is_file() else None


def another_book_in_home(book: Path, root: Path | None = None) -> str | None:
    """Why ``book`` may not run into the home, in one line: the home holds another book's
    tables (same dates, same table names: one would replace the other's). None when it may."""
    root, book = root or home(), book.resolve()
    owner = home_book(root)
    if owner is None or owner == book:
        return None
    own_home = root.with_name(f"{root.name}-{book.name}")
    return (
        f"{root} holds the tables of book {owner}; run book {book} with a home of its own "
        f"(REBALANCE_HOME={own_home})"
    )


def claim_home(book: Path, root: Path | None = None) -> None:
    """Tie the home to ``book`` on its first run; raise ``HomeOfAnotherBookError`` when it
    holds another book's tables. The tie is written once and never replaced: of two first
    runs of different books, one ties the home and the other is refused."""
    root = root or home()
    marker = root / HOME_BOOK
    if not marker.exists():
        with _temporary(marker) as tmp:
            tmp.write_text(f"{book.resolve()}\n", encoding="utf-8")
            with contextlib.suppress(FileExistsError):
                os.link(tmp, marker)  # unlike a rename, never replaces an existing tie
            tmp.unlink()
    if problem := another_book_in_home(book, root):
        raise HomeOfAnotherBookError(problem)


def drop_dates(book: Path) -> list[dt.date]:
    """The dates with a custodian drop folder in the book, oldest first."""
    days = sorted(p.name for p in (book / "drops").glob("????-??-??") if p.is_dir())
    if not days:
        raise FileNotFoundError(f"no drop folders under {book / 'drops'}")
    return [dt.date.fromisoformat(day) for day in days]


def latest_drop_date(book: Path) -> dt.date:
    """The latest date with a custodian drop folder in the book."""
    return drop_dates(book)[-1]


def warehouse(root: Path | None = None) -> Path:
    return (root or home()) / "warehouse"


def partition_file(table: str, day: dt.date, root: Path | None = None) -> Path:
    return warehouse(root) / table / f"{PARTITION_COLUMN}={day.isoformat()}" / "data.parquet"


def report_file(day: dt.date, root: Path | None = None) -> Path:
    """The daily report page of ``day``."""
    return (root or home()) / "reports" / f"{day.isoformat()}.html"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with _temporary(path) as tmp:
        tmp.write_bytes(data)
        _publish(tmp, path)


def _publish(tmp: Path, path: Path) -> None:
    """Give the written ``tmp`` the name ``path``, durably: its bytes reach the disk
    before the rename, and the rename before this returns, so after a crash ``path``
    holds either its old content or all of the new."""
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _sync_directory(path.parent)


TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def _temporary(path: Path) -> Iterator[Path]:
    """A hidden temporary name beside ``path`` for this process (``.<name>.<pid>.<random>.tmp``),
    removed if the write fails; leftovers of dead writers in the folder are removed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files (and DuckDB's files beside them) of writers that are no
    longer running: a SIGKILLed run cannot clean up after itself. Returns what it removed."""
    removed = []
    for leftover in folder.glob(f".*{TEMP_SUFFIX}*"):
        writer = _writer_pid(leftover.name)
        if writer is not None and not _running(writer):
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


def _writer_pid(name: str) -> int | None:
    """The process id in a temporary name ``.<name>.<pid>.<random>.tmp[...]``, if any."""
    stem = name.split(TEMP_SUFFIX)[0]
    parts = stem.rsplit(".", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the block.

    The kernel drops the lock when its holder dies, so a killed run never leaves a lock
    that blocks the next one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _sync_directory(folder: Path) -> None:
    """Make the rename itself durable (the folder's entry, not only the file's bytes)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_partition(df: pl.DataFrame, table: str, day: dt.date, root: Path | None = None) -> Path:
    """Write one partition of a table atomically and return its path."""
    path = partition_file(table, day, root)
    with _temporary(path) as tmp:
        df.write_parquet(tmp, compression="zstd", statistics=False)
        _publish(tmp, path)
    return path


def read_partition(table: str, day: dt.date, root: Path | None = None) -> pl.DataFrame:
    """The table's rows of ``day``; ``FileNotFoundError`` saying why there are none (the
    date is no business day, or it was not run)."""
    from rebalance_pipeline.calendar import not_a_business_day

    path = partition_file(table, day, root)
    if not path.exists():
        raise FileNotFoundError(
            not_a_business_day(day)
            or f"{table} has no partition for {day.isoformat()} (looked for {path}); "
            f"materialize that date first: rebalance run --date {day.isoformat()}"
        )
    return pl.read_parquet(path)


def materialized_dates(table: str, root: Path | None = None) -> list[dt.date]:
    folder = warehouse(root) / table
    prefix = f"{PARTITION_COLUMN}="
    return sorted(
        dt.date.fromisoformat(p.name.removeprefix(prefix))
        for p in folder.glob(f"{prefix}*")
        if (p / "data.parquet").exists()
    )


def catalog_path(root: Path | None = None) -> Path:
    return (root or home()) / "catalog.duckdb"


def build_catalog(root: Path | None = None) -> list[str]:
    """(Re)create one DuckDB view per warehouse table, across every date.

    ``SELECT * FROM positions WHERE trade_date = '2026-03-16'`` then works in any
    DuckDB client opened on ``catalog.duckdb``. Returns the view names.
    """
    import duckdb

    base = warehouse(root)
    target = catalog_path(root)
    with exclusive_lock(target.with_name(f".{target.name}.lock")):
        tables = sorted(p.name for p in base.glob("*") if any(p.glob("*/data.parquet")))
        with _temporary(target) as tmp:
            with duckdb.connect(str(tmp)) as con:
                for table in tables:
                    pattern = (base / table / "*" / "data.parquet").as_posix()
                    con.execute(
                        f'CREATE VIEW "{table}" AS SELECT * FROM '
                        f"read_parquet('{pattern}', hive_partitioning = true, "
                        "union_by_name = true)"
                    )
            _publish(tmp, target)
    return tables
