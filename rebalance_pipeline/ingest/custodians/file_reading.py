"""What a custodian adapter reads from one file (the adapter contract's ``FileReading``).

A stand-in with the contract's exact fields until the adapter interface module
(``custodians/adapter.py``) provides it; readers import it from here until then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl

from rebalance_pipeline.ingest.records import UnreadableFile

__all__ = ["ROW_FINDINGS", "FileReading", "UnreadableFile"]

ROW_FINDINGS = pl.Schema(
    {
        "source_row": pl.Int64,
        "account_ids": pl.List(pl.String),
        "check": pl.String,  # malformed_number | malformed_date | malformed_row | ...
        "message": pl.String,
        "column": pl.String,  # "" for a whole row
    }
)


@dataclasses.dataclass(frozen=True)
class FileReading:
    """What a custodian adapter reads from one file for one canonical kind."""

    rows: pl.DataFrame  # the kind's canonical columns (no custodian/source_file/security_id)
    # plus source_row; a value that does not convert is null and has a row finding
    row_findings: pl.DataFrame  # ROW_FINDINGS
    file_findings: tuple[tuple[str, str], ...] = ()  # (check, message): the whole file
    declared_date: dt.date | None = None  # the as-of date the file states about itself
    detail_rows: int | None = None
    trailer_rows: int | None = None
    trailer_checksum: str | None = None
    computed_checksum: str | None = None
