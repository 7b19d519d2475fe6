"""The SQL macros of ``dbt_like_sql/macros/``: rules that several models share, written once.

Every model connection has them (:func:`macro_connection`); :func:`active_on` applies the
macro of the same name to a Polars frame for the Python code that needs the rule.
"""

from __future__ import annotations

import datetime as dt
import functools
import os

import duckdb
import polars as pl

from rebalance_pipeline.features.models import MACRO_DIR


def create_macros(connection: duckdb.DuckDBPyConnection) -> None:
    """Create every macro file's macros on ``connection``."""
    for path in sorted(MACRO_DIR.glob("*.sql")):
        connection.execute(path.read_text(encoding="utf-8"))


def active_on(
    frame: pl.DataFrame,
    as_of: dt.date,
    start: str = "start_date",
    end: str | None = "end_date",
) -> pl.DataFrame:
    """The rows of ``frame`` active on ``as_of`` (columns ``start`` and ``end``; ``end``
    None when the frame has no end column), in their order, by the ``active_on`` macro."""
    end_column = "null" if end is None else f'"{end}"'
    with macro_connection() as connection:
        connection.register("frame", frame.to_arrow())
        active = connection.sql(
            f'select * from frame where active_on("{start}", {end_column}, $as_of)',
            params={"as_of": as_of},
        ).pl()
    return active.cast(frame.schema)


def macro_connection() -> duckdb.DuckDBPyConnection:
    """A connection of its own (what it registers only it sees) to this process's
    in-memory, single-threaded database with every macro: opening a database costs
    ~12 ms, more than most queries on it."""
    return _macro_database(os.getpid()).cursor()


@functools.cache
def _macro_database(pid: int) -> duckdb.DuckDBPyConnection:
    """The database of :func:`macro_connection`, made once per process (``pid``: a
    forked child makes its own)."""
    connection = duckdb.connect(":memory:", config={"threads": 1})
    create_macros(connection)
    return connection
