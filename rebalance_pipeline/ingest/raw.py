"""The raw records of the date's custodian files: values exactly as delivered.

One table per custodian and file kind (``raw_alder_positions``, ``raw_birch_lots``, ...),
every value the text the custodian sent, every row with its file, line and the file's
SHA-256. The canonical tables are typed from the same files; the raw tables let a person
see what arrived before any conversion, and an auditor trace a canonical row back to it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl

from rebalance_pipeline.ingest import formats as f
from rebalance_pipeline.ingest.drop_files import is_drop_file
from rebalance_pipeline.ingest.records import alder_records, field, split_records

SOURCE_COLUMNS = {"source_file": pl.String, "source_row": pl.Int64, "sha256": pl.String}
EXTRA = "extra_fields"  # the fields of a record beyond its layout, as sent


def raw_table_name(custodian: str, kind: str) -> str:
    return f"raw_{custodian}_{kind}"


RAW_TABLES = tuple(raw_table_name(c, k) for c in f.CUSTODIANS for k in f.KINDS)


def _columns(custodian: str, kind: str) -> tuple[str, ...]:
    return f.ALDER_COLUMNS[kind] if custodian == "alder" else ("RECORD", *f.BIRCH_FIELDS[kind])


def _empty(custodian: str, kind: str) -> pl.DataFrame:
    return pl.DataFrame(
        schema=dict.fromkeys((*_columns(custodian, kind), EXTRA), pl.String) | SOURCE_COLUMNS
    )


def _records(content: bytes, custodian: str, kind: str) -> pl.DataFrame:
    """Every record as text with its line number (alder: after the header). Fields
    beyond the layout are kept, joined, in ``extra_fields``; a record short of fields
    has the missing ones null."""
    columns = _columns(custodian, kind)
    text = content.decode()
    if custodian == "alder":
        records = alder_records(text.partition("\n")[2])
    else:
        records = split_records([text.removesuffix("\n")], "birch", first_line=1).drop("_file")
    separator = "," if custodian == "alder" else "|"
    extra = pl.col("fields").list.slice(len(columns)).list.join(separator)
    return records.select(
        *(field(i).alias(column) for i, column in enumerate(columns)),
        pl.when(extra != "").then(extra).alias(EXTRA),
        "source_row",
    )


def raw_file(root: Path, custodian: str, kind: str, day: dt.date) -> pl.DataFrame:
    """The raw records of one file; empty when the file is absent, not a regular file of
    the drop folder (never read) or not UTF-8 text."""
    path = root / f.drop_path(custodian, kind, day)
    if not is_drop_file(path, root):
        return _empty(custodian, kind)
    content = path.read_bytes()
    try:
        content.decode("utf-8")
        records = _records(content, custodian, kind)
    except ValueError:  # not UTF-8, or not CSV (UnreadableFile)
        return _empty(custodian, kind)
    return records.with_columns(
        pl.lit(path.relative_to(root).as_posix()).alias("source_file"),
        pl.lit(hashlib.sha256(content).hexdigest()).alias("sha256"),
    ).select(_empty(custodian, kind).columns)


def raw_tables(root: Path, day: dt.date) -> dict[str, pl.DataFrame]:
    return {raw_table_name(c, k): raw_file(root, c, k, day) for c in f.CUSTODIANS for k in f.KINDS}
