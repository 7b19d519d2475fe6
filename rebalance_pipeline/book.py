"""The canonical book of one business date: every input table the stages read.

Both the daily ingest (custodian drops + firm files) and the scenario adapter build a
``Book``; from there on the same validation rules, feature SQL, optimizer and routing
run whatever the source.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t

# table name -> schema, in the order stages usually read them
CANONICAL_TABLES: dict[str, pl.Schema] = {
    "accounts": t.ACCOUNTS,
    "securities": t.SECURITIES,
    "model_targets": t.MODEL_TARGETS,
    "model_bands": t.MODEL_BANDS,
    "restrictions": t.RESTRICTIONS,
    "cash_requests": t.CASH_REQUESTS,
    "holds": t.HOLDS,
    "halts": t.HALTS,
    "prices": t.PRICES,
    "price_history": t.PRICES,
    "positions": t.POSITIONS,
    "lots": t.LOTS,
    "transactions": t.TRANSACTIONS,
    "sold_lots": t.SOLD_LOTS,
    "cash_balances": t.CASH_BALANCES,
    "corporate_actions": t.CORPORATE_ACTIONS,
    "source_files": t.SOURCE_FILES,
    "parse_findings": t.FINDINGS,
}


# the canonical tables the continuity stage carries on from the firm's earlier releases:
# ingest stores them as read under ``ingested_<table>``, continuity under the table's name
CARRIED_TABLES = ("accounts", "cash_requests", "transactions", "lots", "positions", "cash_balances")


def ingested(table: str) -> str:
    """The asset (stored table) of a canonical table as ingest read it, before continuity."""
    return f"ingested_{table}" if table in CARRIED_TABLES else table


@dataclasses.dataclass(frozen=True)
class Book:
    """Canonical tables as of ``as_of``.

    ``prices`` holds the date's closes; ``price_history`` the closes of the lookback
    window before it; ``transactions`` the lookback window up to and including the date
    (wash-sale windows and days since the last trade need it); ``sold_lots`` the lots
    of earlier lots files that the window's sells without a delivered gain name (see
    ``tables.SOLD_LOTS``); ``parse_findings`` are
    the faults ingest met while reading the files (malformed numbers, bad encoding, ...).
    """

    as_of: dt.date
    accounts: pl.DataFrame
    securities: pl.DataFrame
    model_targets: pl.DataFrame
    model_bands: pl.DataFrame
    restrictions: pl.DataFrame
    cash_requests: pl.DataFrame
    holds: pl.DataFrame
    halts: pl.DataFrame
    prices: pl.DataFrame
    price_history: pl.DataFrame
    positions: pl.DataFrame
    lots: pl.DataFrame
    transactions: pl.DataFrame
    sold_lots: pl.DataFrame
    cash_balances: pl.DataFrame
    corporate_actions: pl.DataFrame
    source_files: pl.DataFrame
    parse_findings: pl.DataFrame

    def __post_init__(self) -> None:
        for name, schema in CANONICAL_TABLES.items():
            frame = getattr(self, name)
            if frame.schema != schema:
                raise TypeError(
                    f"Book.{name} does not match tables schema: {frame.schema} != {schema}"
                )

    @classmethod
    def from_frames(cls, as_of: dt.date, **frames: pl.DataFrame) -> Book:
        """Build a book, conforming each given frame and leaving the others empty."""
        unknown = set(frames) - set(CANONICAL_TABLES)
        if unknown:
            raise TypeError(f"unknown canonical tables: {sorted(unknown)}")
        conformed = {
            name: t.conform(frames[name], schema) if name in frames else t.empty(schema)
            for name, schema in CANONICAL_TABLES.items()
        }
        return cls(as_of=as_of, **conformed)

    def tables(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in CANONICAL_TABLES}
