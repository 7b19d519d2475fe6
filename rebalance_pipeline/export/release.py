"""Release or replay: which run of a date sends trades out, and what a replay records.

Only the current date's run releases: the book's latest drop date while it has no
released batch. Any other run (a backfill, a re-run of a released date) is a replay:
its files go to ``trades/YYYY-MM-DD/replay-<id>/`` with ``release: false`` and a
``diff.json`` listing the accounts whose trades differ from what the date released;
released files are never touched. An operator can release a date explicitly
(``rebalance run --date D --release``); who and when go to a small file of their own
beside the batch, so the trade files stay byte-deterministic.

A date is never released after a later date was: the later date's run read the ledger
without it (its pending orders, last trade dates and raised cash requests), so both would
go out blind to each other. Such a release is refused; a replay of the date is always
possible. Deciding and writing a release happen under the date's lock
(``release_lock``), so two runs of one date started at once release one batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import polars as pl

from rebalance_pipeline.continuity.ledger import (
    LedgerEntry,
    read_ledger,
    released_batch_ids,
    write_ledger_entry,
)
from rebalance_pipeline.export.trade_files import Manifest, write_trade_files
from rebalance_pipeline.reporting.cells import price_cell, quantity_cell
from rebalance_pipeline.storage import atomic_write_bytes, exclusive_lock

Mode = Literal["auto", "release", "replay"]
MODES = ("auto", "release", "replay")
DIFF = "diff.json"
OPERATOR_SUFFIX = ".operator.json"


@dataclasses.dataclass(frozen=True)
class OperatorRecord:
    """Who asked for an explicit release, and when (passed in, never read from a clock here)."""

    operator: str
    requested_at: str

    def to_json(self, batch_id: str, as_of: dt.date) -> str:
        record = {
            "as_of": as_of.isoformat(),
            "batch_id": batch_id,
            "operator": self.operator,
            "requested_at": self.requested_at,
        }
        return json.dumps(record, indent=2, sort_keys=True) + "\n"


class ReleaseOrderError(ValueError):
    """A release of a date that a later released date did not see."""


@contextlib.contextmanager
def release_lock(home: Path, as_of: dt.date) -> Iterator[None]:
    """Held while a run or a review session of ``as_of`` decides and writes its release."""
    with exclusive_lock(home / "locks" / f"release-{as_of.isoformat()}.lock"):
        yield


def releases(mode: Mode, as_of: dt.date, latest_drop_date: dt.date, released: set[dt.date]) -> bool:
    """Whether a run of ``as_of`` releases: ``auto`` releases the latest drop date while it
    has no released batch; ``release`` and ``replay`` are an operator's explicit choice.
    A release of a date before a released date is refused (``ReleaseOrderError``)."""
    if mode not in MODES:
        raise ValueError(f"release mode {mode!r} is not one of {MODES}")
    if mode == "replay":
        return False
    if mode == "auto" and (as_of in released or as_of < latest_drop_date):
        return False
    later = sorted(day for day in released if day > as_of)
    if later:
        raise ReleaseOrderError(
            f"{as_of} cannot be released: {later[-1]} was released after it and its run did "
            f"not see {as_of}'s trades; replay {as_of} instead (rebalance backfill)"
        )
    return True


def released_trades_of(home: Path, as_of: dt.date) -> pl.DataFrame:
    """LEDGER_TRADES of the batches released for ``as_of`` itself (superseded ones left out)."""
    return read_ledger(home, as_of + dt.timedelta(days=1)).trades.filter(
        pl.col("release_date") == as_of
    )


def export_date(
    released: pl.DataFrame,
    raised_requests: pl.DataFrame,
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
    *,
    home: Path,
    as_of: dt.date,
    release: bool,
    kind: str = "run",
    provenance: dict | None = None,
    operator: OperatorRecord | None = None,
) -> Manifest:
    """Write the date's trade files as a release (and record it in the ledger) or a replay
    (with its diff against what the date released)."""
    folder = home / "trades" / as_of.isoformat()
    if not release:
        prior = released_trades_of(home, as_of)
        manifest = write_trade_files(
            released, accounts, securities, folder, as_of, release=False, provenance=provenance
        )
        diff = {
            "as_of": as_of.isoformat(),
            "replay_batch_id": manifest.batch_id,
            "released_batch_ids": released_batch_ids(home, as_of),
            "accounts_changed": changed_accounts(prior, released),
        }
        atomic_write_bytes(
            manifest.folder / DIFF, (json.dumps(diff, indent=2, sort_keys=True) + "\n").encode()
        )
        return manifest
    manifest = write_trade_files(
        released, accounts, securities, folder, as_of, kind=kind, provenance=provenance
    )
    entry = LedgerEntry(
        as_of=as_of,
        batch_id=manifest.batch_id,
        kind=manifest.kind,
        trades=released.select("account_id", "security_id", "side", "lot_id", "quantity", "price"),
        raised_requests=raised_requests.select("request_id", "account_id", "amount"),
        supersedes=manifest.supersedes,
    )
    write_ledger_entry(home, entry)
    if operator is not None:
        path = folder / f"release-{manifest.batch_id}{OPERATOR_SUFFIX}"
        if not path.exists():
            atomic_write_bytes(path, operator.to_json(manifest.batch_id, as_of).encode())
    return manifest


def changed_accounts(before: pl.DataFrame, after: pl.DataFrame) -> list[str]:
    """Accounts whose trades differ, compared as the trade files write them."""
    old, new = _trade_lines(before), _trade_lines(after)
    return sorted(a for a in set(old) | set(new) if old.get(a) != new.get(a))


def _trade_lines(trades: pl.DataFrame) -> dict[str, list[tuple]]:
    lines: dict[str, list[tuple]] = {}
    for row in trades.iter_rows(named=True):
        line = (
            row["security_id"],
            row["side"],
            row["lot_id"] or "",
            quantity_cell(row["quantity"]),
            price_cell(row["price"]),
        )
        lines.setdefault(row["account_id"], []).append(line)
    return {account: sorted(rows) for account, rows in lines.items()}
