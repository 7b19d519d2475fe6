"""The release ledger: the firm's own record of every batch it released.

One immutable JSON file per released batch, ``$REBALANCE_HOME/ledger/YYYY-MM-DD/<batch>.json``
(see ``export/README.md``), holding the batch's trades and the cash requests it raised.
A date D reads only the entries of dates before D, so its partition stays a pure function
of its inputs as of D, whatever was released since.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.storage import atomic_write_bytes

LEDGER_TRADES = pl.Schema(
    {
        "release_date": t.Date,
        "batch_id": t.Utf8,
        "account_id": t.Utf8,
        "security_id": t.Utf8,
        "side": t.Utf8,
        "lot_id": t.Utf8,
        "quantity": t.F64,
        "price": t.F64,
    }
)
RAISED_REQUESTS = pl.Schema(
    {
        "release_date": t.Date,
        "batch_id": t.Utf8,
        "request_id": t.Utf8,
        "account_id": t.Utf8,
        "amount": t.F64,
    }
)
TRADE_FIELDS = ("account_id", "security_id", "side", "lot_id", "quantity", "price")
REQUEST_FIELDS = ("request_id", "account_id", "amount")


class LedgerError(ValueError):
    """A ledger entry that would change what was already recorded, or cannot be read."""


@dataclasses.dataclass(frozen=True)
class LedgerEntry:
    """One released batch: ``kind`` is ``run`` (the date's run) or ``review`` (approved later)."""

    as_of: dt.date
    batch_id: str
    kind: str
    trades: pl.DataFrame  # TRADE_FIELDS
    raised_requests: pl.DataFrame  # REQUEST_FIELDS
    supersedes: str | None = None

    def to_json(self) -> str:
        record = {
            "as_of": self.as_of.isoformat(),
            "batch_id": self.batch_id,
            "kind": self.kind,
            "supersedes": self.supersedes,
            "trades": _records(self.trades, TRADE_FIELDS),
            "cash_requests_raised": _records(self.raised_requests, REQUEST_FIELDS),
        }
        return json.dumps(record, indent=2, sort_keys=True) + "\n"


@dataclasses.dataclass(frozen=True)
class Ledger:
    """The ledger as of a date: releases of earlier dates only, superseded batches left out."""

    trades: pl.DataFrame  # LEDGER_TRADES
    raised_requests: pl.DataFrame  # RAISED_REQUESTS

    @classmethod
    def empty(cls) -> Ledger:
        return cls(t.empty(LEDGER_TRADES), t.empty(RAISED_REQUESTS))

    def last_release_dates(self) -> pl.DataFrame:
        """account_id, last_firm_trade_date: the latest release that traded the account."""
        return self.trades.group_by("account_id").agg(
            pl.col("release_date").max().alias("last_firm_trade_date")
        )


def ledger_dir(home: Path) -> Path:
    return home / "ledger"


def _records(frame: pl.DataFrame, fields: tuple[str, ...]) -> list[dict]:
    return frame.select(fields).sort(fields, nulls_last=True).to_dicts()


def write_ledger_entry(home: Path, entry: LedgerEntry) -> Path:
    """Record a released batch; writing the same entry again is a no-op, a different one fails."""
    path = ledger_dir(home) / entry.as_of.isoformat() / f"{entry.batch_id}.json"
    data = entry.to_json().encode()
    if path.exists():
        if path.read_bytes() != data:
            raise LedgerError(f"{path} already records batch {entry.batch_id} differently")
        return path
    atomic_write_bytes(path, data)
    return path


def released_dates(home: Path) -> set[dt.date]:
    """Every date with at least one released batch."""
    folder = ledger_dir(home)
    return {
        dt.date.fromisoformat(day.name)
        for day in folder.glob("????-??-??")
        if any(day.glob("*.json"))
    }


def released_batch_ids(home: Path, day: dt.date) -> list[str]:
    """The batches released for ``day`` itself that no later batch superseded."""
    folder = ledger_dir(home) / day.isoformat()
    entries = [json.loads(path.read_text()) for path in folder.glob("*.json")]
    superseded = {entry["supersedes"] for entry in entries if entry.get("supersedes")}
    return sorted(entry["batch_id"] for entry in entries if entry["batch_id"] not in superseded)


def read_ledger(home: Path, as_of: dt.date) -> Ledger:
    """The releases of dates strictly before ``as_of``."""
    entries = [
        json.loads(path.read_text())
        for path in sorted(ledger_dir(home).glob("????-??-??/*.json"))
        if dt.date.fromisoformat(path.parent.name) < as_of
    ]
    superseded = {entry["supersedes"] for entry in entries if entry.get("supersedes")}
    live = [entry for entry in entries if entry["batch_id"] not in superseded]
    return Ledger(
        trades=_frame(live, "trades", LEDGER_TRADES),
        raised_requests=_frame(live, "cash_requests_raised", RAISED_REQUESTS),
    )


def _frame(entries: list[dict], key: str, schema: pl.Schema) -> pl.DataFrame:
    rows = [
        {
            **row,
            "release_date": dt.date.fromisoformat(entry["as_of"]),
            "batch_id": entry["batch_id"],
        }
        for entry in entries
        for row in entry[key]
    ]
    if not rows:
        return t.empty(schema)
    return t.conform(pl.DataFrame(rows, infer_schema_length=None), schema)
