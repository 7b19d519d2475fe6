"""What changed for a date between an earlier trade-file batch and the current one.

Trades are compared as written in the CSVs (every column but ``batch_id``), keyed by
account, side, security and lot, so a changed quantity shows as one changed row rather
than a removal and an addition. Decisions are compared as a batch records them: an
account's released rows carry the first reason code of its route and its review level;
the current side of that comparison is the date's stored routing decisions.

Once review released trades of the date (review batches, which add to the run's batch),
the current side is the current batch plus the review batches, compared by default
with the current batch alone, and the settled review decisions (``review_outcomes``:
rejections too, which change no file) are listed with who decided and when.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.audit.batches import (
    AuditError,
    batch_ids,
    current_batch_id,
    read_batch,
    review_batches,
)
from rebalance_pipeline.audit.sections import decision_text

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
class ReviewDecision:
    account_id: str
    decision: str  # "approve by Dana at 2026-03-16T21:30:00Z" (audit.sections.decision_text)
    trade: str  # "sell 476 SEC-HLTH lot A000014-L0003": as released (a reject: as proposed)


@dataclasses.dataclass(frozen=True)
class BatchDiff:
    day: dt.date
    against: str
    current: str
    trades: list[AccountTradeDiff]
    decisions: list[DecisionChange] | None  # None: the date has no stored decisions
    review_batches: list[str] = dataclasses.field(default_factory=list)  # added to current
    review_decisions: list[ReviewDecision] = dataclasses.field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.trades and not self.decisions and not self.review_decisions

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "against": self.against,
            "current": self.current,
            "trades": [dataclasses.asdict(change) for change in self.trades],
            "decisions": None
            if self.decisions is None
            else [dataclasses.asdict(change) for change in self.decisions],
            "review_batches": self.review_batches,
            "review_decisions": [dataclasses.asdict(d) for d in self.review_decisions],
        }

    def to_text(self) -> str:
        reviews = (
            f" + review batches {', '.join(self.review_batches)}" if self.review_batches else ""
        )
        lines = [
            f"{self.day.isoformat()}: batch {self.against} -> current batch {self.current}{reviews}"
        ]
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
        if self.review_decisions:
            lines.append(f"{len(self.review_decisions)} review decisions")
            lines += [f"  {d.account_id}: {d.decision}: {d.trade}" for d in self.review_decisions]
        return "\n".join(lines) + "\n"


def _row_text(row: dict[str, str]) -> str:
    lot = f" lot {row['lot_id']}" if row["lot_id"] else ""
    return (
        f"{row['side']} {row['quantity']} {row['security_id']}{lot} @ {row['estimated_price']} "
        f"({row['reason_code']}, {row['review_level']})"
    )


def diff(day: dt.date, against_batch: str | None = None, home: Path | None = None) -> BatchDiff:
    """Compare the date's current batch (and decisions) with ``against_batch``.

    Without ``against_batch`` the batch written just before the current one is used, or
    the current batch itself once review batches add to it; a date with a single batch
    and no review has nothing to compare it with (an ``AuditError``).
    """
    current = current_batch_id(day, home)
    if current is None:
        raise AuditError(f"no trade files for {day.isoformat()}; materialize the date first")
    reviews = review_batches(day, home)
    ids = [
        batch_id
        for batch_id in batch_ids(day, home)
        if batch_id not in {r.batch_id for r in reviews}
    ]
    against = against_batch or (current if reviews else _previous(ids, current, day))
    before = read_batch(day, against, home).rows
    after = pl.concat([read_batch(day, current, home).rows, *(r.rows for r in reviews)])
    decisions = _stored("routing_decisions", day, home)
    outcomes = _stored("review_outcomes", day, home)
    return BatchDiff(
        day=day,
        against=against,
        current=current,
        trades=trade_differences(before, after),
        decisions=None if decisions is None else decision_changes(before, after, decisions),
        review_batches=[review.batch_id for review in reviews],
        review_decisions=[] if outcomes is None else review_decisions(outcomes),
    )


def _stored(table: str, day: dt.date, home: Path | None) -> pl.DataFrame | None:
    path = storage.partition_file(table, day, home)
    return pl.read_parquet(path) if path.exists() else None


def review_decisions(outcomes: pl.DataFrame) -> list[ReviewDecision]:
    """The settled review decisions (REVIEW_OUTCOMES), one per trade, by account."""
    return [
        ReviewDecision(
            row["account_id"],
            decision_text(row),
            f"{row['side']} {row['quantity']:g} {row['security_id']}"
            + (f" lot {row['lot_id']}" if row["lot_id"] else ""),
        )
        for row in outcomes.sort("account_id", "security_id", "side").iter_rows(named=True)
    ]


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
