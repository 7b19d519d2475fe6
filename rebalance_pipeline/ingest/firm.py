"""Firm files (account master, security master, models, overrides) as of a date."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.features.macros import active_on
from rebalance_pipeline.ingest.drop_files import foreign_reason

# file -> (canonical schema, key of an effective-dated row; None = not effective-dated)
FIRM_FILES: dict[str, tuple[pl.Schema, tuple[str, ...] | None]] = {
    "accounts": (t.ACCOUNTS, ("account_id",)),
    "securities": (t.SECURITIES, ("security_id",)),
    "model_targets": (t.MODEL_TARGETS, ("model_id", "security_id")),
    "model_bands": (t.MODEL_BANDS, ("model_id", "asset_class")),
    "restrictions": (t.RESTRICTIONS, ("restriction_id",)),
    "cash_requests": (t.CASH_REQUESTS, None),
    "holds": (t.HOLDS, None),
    "halts": (t.HALTS, None),
}
EXTRA_DATE_COLUMNS = ("effective_from", "effective_to", "created_date")


def read_firm_file(root: Path, name: str) -> pl.DataFrame:
    """A firm CSV with its columns cast to the canonical types (dates ISO); strict."""
    schema, _ = FIRM_FILES[name]
    path = root / "firm" / f"{name}.csv"
    types = dict(schema) | dict.fromkeys(EXTRA_DATE_COLUMNS, pl.Date)
    foreign = foreign_reason(path, root / "firm") if path.exists() or path.is_symlink() else None
    if foreign is not None:
        raise FirmFileError(f"{path} is not a regular file of the firm folder ({foreign})")
    try:
        _check_field_counts(path)
        return _typed_firm_frame(pl.read_csv(path, infer_schema=False), types)
    except (OSError, UnicodeDecodeError, csv.Error, pl.exceptions.PolarsError) as error:
        raise FirmFileError(f"{path}: {error}") from error


class FirmFileError(ValueError):
    """A firm file is absent or does not parse: the date cannot be read without it."""


def _check_field_counts(path: Path) -> None:
    """Every record has its header's number of fields: the CSV reader would fill a short
    row with nulls (a restriction losing its sector) and a long one cannot be placed."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        width = len(next(reader, []))
        for record in reader:
            if record and len(record) != width:
                raise FirmFileError(
                    f"{path} line {reader.line_num}: {len(record)} fields, its header has {width}"
                )


def _typed_firm_frame(frame: pl.DataFrame, types: dict[str, pl.DataType]) -> pl.DataFrame:
    return frame.with_columns(
        pl.col(c).str.strptime(pl.Date, "%Y-%m-%d")
        if types[c] == pl.Date
        else pl.col(c).cast(types[c])
        for c in frame.columns
        if c in types
    )


def as_of(frame: pl.DataFrame, key: tuple[str, ...], date: dt.date) -> pl.DataFrame:
    """Rows in force on ``date`` (active from effective_from to an effective_to, if the
    file has one), the latest per key."""
    end = "effective_to" if "effective_to" in frame.columns else None
    live = active_on(frame, date, start="effective_from", end=end)
    return live.sort(*key, "effective_from").group_by(key, maintain_order=True).last().sort(*key)


def firm_tables(root: Path, date: dt.date) -> dict[str, pl.DataFrame]:
    """Every firm table as of ``date`` in its canonical schema."""
    tables = {}
    for name, (schema, key) in FIRM_FILES.items():
        frame = read_firm_file(root, name)
        if key is not None:
            frame = as_of(frame, key, date)
        elif name == "cash_requests":
            frame = frame.filter(pl.col("created_date") <= date).sort("request_id")
        tables[name] = t.conform(frame, schema)
    return tables


def firm_accounts(root: Path, date: dt.date) -> int:
    """How many accounts the firm's account master has in force on ``date``."""
    _, key = FIRM_FILES["accounts"]
    return as_of(read_firm_file(root, "accounts"), key, date).height


def security_master_history(root: Path) -> pl.DataFrame:
    """Every (security_id, symbol, effective_from) row of the security master."""
    return read_firm_file(root, "securities").select("security_id", "symbol", "effective_from")


def symbol_maps(history: pl.DataFrame, dates: list[dt.date]) -> pl.DataFrame:
    """(file_date, symbol) -> security_id for each date, in one vectorised pass.

    ``in_force`` maps the symbols of the master as of the date; ``ever`` also keeps a
    security's earlier symbols (a corporate action names the symbol being replaced).
    """
    on_dates = (
        pl.DataFrame({"file_date": sorted(set(dates))}, schema={"file_date": pl.Date})
        .join(history, how="cross")
        .filter(pl.col("effective_from") <= pl.col("file_date"))
        .sort("file_date", "effective_from")
    )
    in_force = on_dates.group_by("file_date", "security_id", maintain_order=True).last()
    ever = on_dates.group_by("file_date", "symbol", maintain_order=True).last()
    return pl.concat(
        [
            frame.select("file_date", "symbol", "security_id", kind=pl.lit(kind))
            for kind, frame in (("in_force", in_force), ("ever", ever))
        ]
    )
