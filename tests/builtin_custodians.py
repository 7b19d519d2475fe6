"""The built-in custodians of the sample and generated books (alder, birch), by name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import polars as pl

from rebalance_pipeline.generator.writers import WRITERS
from rebalance_pipeline.ingest.custodians import DEFAULT_CUSTODIANS, Custodian

CUSTODIAN: dict[str, Custodian] = {c.name: c for c in DEFAULT_CUSTODIANS}
CUSTODIANS = tuple(CUSTODIAN)


def drop_path(custodian: str, kind: str, day: dt.date) -> str:
    return CUSTODIAN[custodian].drop_path(kind, day)


def to_text(custodian: str, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A text format's fields of a canonical frame (alder, birch)."""
    return WRITERS[custodian].text(kind, frame)


def detail_lines(custodian: str, text: pl.DataFrame, unquoted: Collection[str] = ()) -> list[str]:
    return WRITERS[custodian].detail_lines(text, unquoted)


def file_bytes(custodian: str, kind: str, file_date: dt.date, lines: list[str]) -> bytes:
    return WRITERS[custodian].file_bytes(kind, file_date, lines)
