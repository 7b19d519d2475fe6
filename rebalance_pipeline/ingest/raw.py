"""The raw records of the date's custodian files: values exactly as delivered.

One table per custodian of the book and file kind it delivers (``raw_alder_positions``,
``raw_birch_lots``, ...), every value the text the custodian sent in the columns of its
own format (the adapter's ``raw_columns``), every row with its file, line and the file's
SHA-256. The canonical tables are typed from the same files; the raw tables let a person
see what arrived before any conversion, and an auditor trace a canonical row back to it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl

from rebalance_pipeline.ingest.custodians import Custodian, book_custodians
from rebalance_pipeline.ingest.drop_files import is_drop_file

SOURCE_COLUMNS = {"source_file": pl.String, "source_row": pl.Int64, "sha256": pl.String}
EXTRA = "extra_fields"  # the fields of a record beyond its layout, as sent


def raw_table_name(custodian: str, kind: str) -> str:
    return f"raw_{custodian}_{kind}"


def raw_table_names(custodians: tuple[Custodian, ...]) -> tuple[str, ...]:
    """The raw tables of a book with ``custodians``, in their order."""
    return tuple(raw_table_name(c.name, k) for c in custodians for k in c.adapter.kinds)


def _empty(custodian: Custodian, kind: str) -> pl.DataFrame:
    columns = (*custodian.adapter.raw_columns(kind), EXTRA)
    return pl.DataFrame(schema=dict.fromkeys(columns, pl.String) | SOURCE_COLUMNS)


def raw_file(root: Path, custodian: Custodian, kind: str, day: dt.date) -> pl.DataFrame:
    """The raw records of one file; empty when the file is absent, not a regular file of
    the drop folder (never read), not UTF-8 text or not records of its format."""
    path = root / custodian.drop_path(kind, day)
    empty = _empty(custodian, kind)
    if not is_drop_file(path, root):
        return empty
    content = path.read_bytes()
    try:
        content.decode("utf-8")
        records = custodian.adapter.raw_records(content, kind)
    except ValueError:  # not UTF-8, or not records of the format (UnreadableFile)
        return empty
    return records.with_columns(
        pl.lit(path.relative_to(root).as_posix()).alias("source_file"),
        pl.lit(hashlib.sha256(content).hexdigest()).alias("sha256"),
    ).select(empty.columns)


def raw_tables(root: Path, day: dt.date) -> dict[str, pl.DataFrame]:
    return {
        raw_table_name(c.name, k): raw_file(root, c, k, day)
        for c in book_custodians(root)
        for k in c.adapter.kinds
    }
