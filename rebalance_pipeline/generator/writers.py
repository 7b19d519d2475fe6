"""The custodians of a generated book, the format each writes in and its share of the
accounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import numpy as np
import polars as pl

from rebalance_pipeline.generator.flex_render import FlexWriter
from rebalance_pipeline.generator.render import AlderWriter, BirchWriter, FormatWriter
from rebalance_pipeline.ingest.custodians import Custodian

WRITERS: dict[str, FormatWriter] = {
    "alder": AlderWriter(),
    "birch": BirchWriter(),
    "cedar": FlexWriter(),
}
CUSTODIANS: dict[str, Custodian] = {c: Custodian(c, w.adapter) for c, w in WRITERS.items()}
# each custodian's share of the accounts; the last custodian of a book takes the rest
SHARES = {"alder": 0.55, "birch": 0.25, "cedar": 0.20}


def custodians_of_accounts(
    rng: np.random.Generator, accounts: int, custodians: tuple[str, ...]
) -> np.ndarray:
    """A custodian of ``custodians`` for each of ``accounts`` accounts, by :data:`SHARES`."""
    edges = np.cumsum([SHARES[c] for c in custodians])[:-1]
    return np.array(custodians)[np.searchsorted(edges, rng.random(accounts), side="right")]


def custodians_file(custodians: tuple[str, ...]) -> bytes:
    """``firm/custodians.yaml`` of a generated book."""
    entries = [f"  {name}: {{adapter: {WRITERS[name].adapter_name}}}" for name in custodians]
    return ("custodians:\n" + "\n".join(entries) + "\n").encode()


def fault_custodians(
    kind: str, spoiled: Collection[str], custodians: tuple[str, ...]
) -> tuple[str, ...]:
    """The custodians whose format can carry a file fault ``kind`` that leaves the file
    in place (``spoiled``: those kinds); every custodian for the others."""
    if kind in spoiled:
        return tuple(c for c in custodians if kind in WRITERS[c].spoilers)
    return custodians


def to_text(custodian: str, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A text format's fields of a canonical frame (alder, birch)."""
    return WRITERS[custodian].text(kind, frame)  # type: ignore[attr-defined]


def detail_lines(custodian: str, text: pl.DataFrame, unquoted: Collection[str] = ()) -> list[str]:
    return WRITERS[custodian].detail_lines(text, unquoted)  # type: ignore[attr-defined]


def file_bytes(custodian: str, kind: str, file_date: dt.date, lines: list[str]) -> bytes:
    return WRITERS[custodian].file_bytes(kind, file_date, lines)  # type: ignore[attr-defined]
