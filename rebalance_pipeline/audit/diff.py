"""What changed for a date between an earlier trade-file batch and the current one.

Trades are compared as written in the CSVs (every column but ``batch_id``), keyed by
account, side, security and lot, so a changed quantity shows as one changed row rather
than a removal and an addition. Decisions are compared as a batch records them: an
account's released rows carry the first reason code of its route and its review level;
the current side of that comparison is the date's stored routing decisions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.audit.batches import AuditError, batch_ids, current_batch_id, read_batch

TRADE_KEY = ("side", "security_id", "lot_id")
COMPARED = (
    "symbol",
    "quantity",
    "estimated_price",
    "estimated_amount",
    "reason_code",
    "review_level",
)


@dataclasses.dataclass(frozen=True)
class AccountTradeDiff:
    account_id: str
    added: list[dict[str, str]]  # rows only in the current batch
    removed: list[dict[str, str]]  # rows only in the earlier batch
    changed: list[dict[str, dict[str, str]]]  # {"before": row, "after": row}


@dataclasses.dataclass(frozen=True)
class DecisionChange:
    account_id: str
    before: str  # "<reason_code>/<review_level>" in the earlier batch, or "not released"
    after: str  # the same in the current batch, else the current route and review


@dataclasses.dataclass(frozen=True)
class BatchDiff:
    day: dt.date
    against: str
    current: str
    trades: list[AccountTradeDiff]
    decisions: list[DecisionChange] | None  # None: the date has no stored decisions

    @property
    def is_empty(self) -> bool:
        return not self.trades and not self.decisions

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "against": self.against,
            "current": self.current,
            "trades": [dataclasses.asdict(change) for change in self.trades],
            "decisions": None
            if self.decisions is None
            else [dataclasses.asdict(change) for change in self.decisions],
        }

    def to_text(self) -> str:
        lines = [f"{self.day.isoformat()}: batch {self.against} -> current batch {self.current}"]
        if self.is_empty:
            return "\n".join([*lines, "no differences"]) + "\n"
        lines.append(f"{len(self.trades)} accounts with different trades")
        for change in self.trades:
            counts = f"+{len(change.added)} -{len(change.removed)} ~{len(change.changed)}"
            lines.append(f"  {change.account_id}: {counts}")
            lines += [f"    + {_row_text(row)}" for row in change.added]
            lines += [f"    - {_row_text(row)}" for row in change.removed]
            lines += [
                f"    ~ {_row_text(pair['before'])}  =>  {_row_text(pair['after'])}"
                for pair in change.changed
            ]
        if self.decisions is None:
            lines.append("routing decisions are not stored for the date: routes not compared")
        else:
            lines.append(f"{len(self.decisions)} accounts with a different decision")
            lines += [f"  {c.account_id}: {c.before} -> {c.after}" for c in self.decisions]
        return "\n".join(lines) + "\n"


def _row_text(row: dict[str, str]) -> str:
    lot = f" lot {row['lot_id']}" if row["lot_id"] else ""
    return (
        f"{row['side']} {row['quantity']} {row['security_id']}{lot} @ {row['estimated_price']} "
        f"({row['reason_code']}, {row['review_level']})"
    )


def diff(day: dt.date, against_batch: str | None = None, home: Path | None = None) -> BatchDiff:
    """Compare the date's current batch (and decisions) with ``against_batch``.

    Without ``against_batch`` the batch written just before the current one is used; a
    date with a single batch has nothing to compare it with (an ``AuditError``).
    """
    current = current_batch_id(day, home)
    if current is None:
        raise AuditError(f"no trade files for {day.isoformat()}; materialize the date first")
    against = against_batch or _previous(batch_ids(day, home), current, day)
    before = read_batch(day, against, home).rows
    after = read_batch(day, current, home).rows
    decisions_path = storage.partition_file("routing_decisions", day, home)
    decisions = pl.read_parquet(decisions_path) if decisions_path.exists() else None
    return BatchDiff(
        day=day,
        against=against,
        current=current,
        trades=trade_differences(before, after),
        decisions=None if decisions is None else decision_changes(before, after, decisions),
    )


def _previous(ids: list[str], current: str, day: dt.date) -> str:
    position = ids.index(current) if current in ids else len(ids)
    if position == 0:
        raise AuditError(
            f"{day.isoformat()} has one batch ({current}): nothing earlier to compare it "
            "with (--against BATCH compares it with a replay or a later batch)"
        )
    return ids[position - 1]


def trade_differences(before: pl.DataFrame, after: pl.DataFrame) -> list[AccountTradeDiff]:
    """Per account, the rows added, removed and changed from ``before`` to ``after``."""
    old, new = _keyed(before), _keyed(after)
    changes = []
    for account_id in sorted({key[0] for key in old} | {key[0] for key in new}):
        mine_old = {k: v for k, v in old.items() if k[0] == account_id}
        mine_new = {k: v for k, v in new.items() if k[0] == account_id}
        added = [mine_new[k] for k in sorted(mine_new.keys() - mine_old.keys())]
        removed = [mine_old[k] for k in sorted(mine_old.keys() - mine_new.keys())]
        changed = [
            {"before": mine_old[k], "after": mine_new[k]}
            for k in sorted(mine_old.keys() & mine_new.keys())
            if _compared(mine_old[k]) != _compared(mine_new[k])
        ]
        if added or removed or changed:
            changes.append(AccountTradeDiff(account_id, added, removed, changed))
    return changes


def _keyed(rows: pl.DataFrame) -> dict[tuple[str, ...], dict[str, str]]:
    """Rows by (account, side, security, lot, n): n numbers repeats of the same key."""
    keyed: dict[tuple[str, ...], dict[str, str]] = {}
    repeats: Counter[tuple[str, ...]] = Counter()
    for row in rows.drop("batch_id", "file").iter_rows(named=True):
        base = (row["account_id"], *(row[column] for column in TRADE_KEY))
        keyed[(*base, str(repeats[base]))] = row
        repeats[base] += 1
    return keyed


def _compared(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row[column] for column in COMPARED)


def decision_changes(
    before: pl.DataFrame, after: pl.DataFrame, decisions: pl.DataFrame
) -> list[DecisionChange]:
    """Accounts released by one batch whose reason/review differs in the other.

    Only accounts one of the two batches released can be compared (a batch records
    nothing about the accounts it did not trade); for an account the current batch does
    not release, the current routing decision says what became of it.
    """
    was, now = _released(before), _released(after)
    routes = {
        row["account_id"]: f"not released ({row['route']}, review {row['review'] or 'n/a'})"
        for row in decisions.iter_rows(named=True)
    }
    changes = []
    for account_id in sorted(was.keys() | now.keys()):
        old = was.get(account_id, "not released")
        new = now.get(account_id) or routes.get(account_id, "no decision")
        if old != new:
            changes.append(DecisionChange(account_id, old, new))
    return changes


def _released(rows: pl.DataFrame) -> dict[str, str]:
    """account -> "<reason_code>/<review_level>" of its rows in a batch."""
    return {
        row["account_id"]: f"{row['reason_code']}/{row['review_level']}"
        for row in rows.unique("account_id", keep="first").iter_rows(named=True)
    }
