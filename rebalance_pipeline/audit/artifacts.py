"""The stored partitions of one date, as the audit reads them (never recomputed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from rebalance_pipeline import storage


class Artifacts:
    """The stored partitions of one date, read on first use; a missing table is None."""

    def __init__(self, day: dt.date, home: Path | None) -> None:
        self.day = day
        self.home = home
        self._tables: dict[str, pl.DataFrame | None] = {}

    def table(self, name: str) -> pl.DataFrame | None:
        if name not in self._tables:
            path = storage.partition_file(name, self.day, self.home)
            self._tables[name] = pl.read_parquet(path) if path.exists() else None
        return self._tables[name]

    def rows(self, name: str, column: str, value: Any) -> list[dict[str, Any]]:
        """Rows of ``name`` where ``column == value`` ([] when the table is missing)."""
        frame = self.table(name)
        if frame is None:
            return []
        return frame.filter(pl.col(column) == value).to_dicts()

    def missing(self, name: str) -> str:
        return f"{name} is not stored for {self.day.isoformat()}"
