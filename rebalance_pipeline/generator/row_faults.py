"""Row faults injected into one custodian-day's files: each rewrites the rows of one
planned account (and lot) and marks them, so the ground truth can name the exact line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

from rebalance_pipeline.generator.config import (
    CORPORATE_ACTION_FAULTS,
)
from rebalance_pipeline.generator.faults import PlannedFault
from rebalance_pipeline.generator.market import (
    SPLIT_SECURITY,
    SYMBOL_CHANGE,
)
from rebalance_pipeline.generator.render import MARK
from rebalance_pipeline.generator.writers import WRITERS

MALFORMED_NUMBER = "12,3.4x"
RAGGED_NUMBER = "1,001,403.67"  # written unquoted: one field more than the header
SORT_KEYS = {
    "positions": ["account_id", "symbol"],
    "lots": ["account_id", "lot_id"],
    "transactions": ["account_id", "transaction_id"],
    "cash": ["account_id"],
    "prices": ["symbol"],
    "corporate_actions": ["symbol"],
}


@dataclasses.dataclass
class DayFiles:
    """The typed frames of one custodian-day, with the faults marked on their rows."""

    custodian: str
    day: dt.date
    frames: dict[str, pl.DataFrame]
    text_overrides: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    # fault id -> (canonical column, text written instead of the value)
    unquoted: set[str] = dataclasses.field(default_factory=set)
    # fault ids whose overriding text is written without the quotes CSV would need

    def sort(self) -> None:
        for kind, frame in self.frames.items():
            self.frames[kind] = frame.sort(SORT_KEYS[kind], maintain_order=True)


def inject_row_fault(
    rng: np.random.Generator,
    fault: PlannedFault,
    files: DayFiles,
    used_accounts: set[str],
    excluded_securities: set[str],
) -> list[tuple[str, str, str, str]]:
    """Inject one account-scoped fault; returns (fault id, file kind, account, kind) per hit."""
    lots = files.frames["lots"]
    if fault.kind in CORPORATE_ACTION_FAULTS:
        security = SPLIT_SECURITY[0] if fault.kind == "split_not_applied" else SYMBOL_CHANGE[0]
        candidates = lots.filter(pl.col("security_id") == security)
    else:
        candidates = lots.filter(~pl.col("security_id").is_in(list(excluded_securities)))
    candidates = candidates.filter(~pl.col("account_id").is_in(list(used_accounts)))
    if candidates.is_empty():
        return []
    if fault.kind in CORPORATE_ACTION_FAULTS:
        accounts = candidates["account_id"].unique().sort()
        picked = rng.choice(accounts.len(), size=min(2, accounts.len()), replace=False)
        targets = [
            candidates.filter(pl.col("account_id") == accounts[int(i)]).row(0, named=True)
            for i in sorted(picked)
        ]
    else:
        targets = [candidates.row(int(rng.integers(0, candidates.height)), named=True)]
    hits = []
    for number, lot in enumerate(targets):
        fault_id = f"{fault.fault_id}-{number + 1}"
        file_kind = _INJECTORS[fault.kind](rng, files, lot, fault_id)
        used_accounts.add(lot["account_id"])
        security = None if fault.kind in ("unknown_security", "ragged_row") else lot["security_id"]
        hits.append((fault_id, file_kind, lot["account_id"], security))
    return hits


def _mark(
    frame: pl.DataFrame, condition: pl.Expr, fault_id: str, **changes: pl.Expr
) -> pl.DataFrame:
    return frame.with_columns(
        **{
            name: pl.when(condition).then(value).otherwise(pl.col(name))
            for name, value in changes.items()
        },
        **{MARK: pl.when(condition).then(pl.lit(fault_id)).otherwise(pl.col(MARK))},
    )


def _holding(lot: dict) -> pl.Expr:
    return (pl.col("account_id") == lot["account_id"]) & (
        pl.col("security_id") == lot["security_id"]
    )


def _duplicate_rows(rng, files: DayFiles, lot: dict, fault_id: str) -> str:
    lots = files.frames["lots"]
    copy = lots.filter(pl.col("lot_id") == lot["lot_id"]).with_columns(pl.lit(fault_id).alias(MARK))
    files.frames["lots"] = pl.concat([lots, copy])
    return "lots"


def _unknown_security(rng, files: DayFiles, lot: dict, fault_id: str) -> str:
    letters = "".join(chr(ord("A") + int(i)) for i in rng.integers(0, 26, 3))
    symbol = f"X{letters}"
    common = {
        "account_id": lot["account_id"],
        "security_id": None,
        "symbol": symbol,
        "quantity": 100.0,
        "custodian": files.custodian,
        MARK: fault_id,
    }
    new_lot = common | {
        "lot_id": f"{lot['account_id']}-X001",
        "cost_basis": 5000.0,
        "acquired_date": files.day - dt.timedelta(days=90),
    }
    for kind, row in (("positions", common), ("lots", new_lot)):
        frame = files.frames[kind]
        files.frames[kind] = pl.concat([frame, pl.DataFrame([row], schema=frame.schema)])
    return "positions"


def _reconciliation_break(rng, files: DayFiles, lot: dict, fault_id: str) -> str:
    extra = float(rng.integers(1, 10)) + 0.5  # never a whole split ratio of the lots
    positions = files.frames["positions"]
    files.frames["positions"] = _mark(
        positions, _holding(lot), fault_id, quantity=pl.col("quantity") + extra
    )
    return "positions"


def _negative_quantity(rng, files: DayFiles, lot: dict, fault_id: str) -> str:
    """Both the lots and the position go negative, so they still reconcile."""
    for kind in ("lots", "positions"):
        files.frames[kind] = _mark(
            files.frames[kind], _holding(lot), fault_id, quantity=-pl.col("quantity")
        )
    return "lots"


def _malformed_number(rng, files: DayFiles, lot: dict, fault_id: str) -> str:
    files.frames["lots"] = _mark(files.frames["lots"], pl.col("lot_id") == lot["lot_id"], fault_id)
    files.text_overrides[fault_id] = ("cost_basis", MALFORMED_NUMBER)
    return "lots"


def _malformed_date(rng, files: DayFiles, lot: dict, fault_id: str) -> str:
    files.frames["lots"] = _mark(files.frames["lots"], pl.col("lot_id") == lot["lot_id"], fault_id)
    files.text_overrides[fault_id] = ("acquired_date", WRITERS[files.custodian].malformed_date)
    return "lots"


def _ragged_row(rng, files: DayFiles, lot: dict, fault_id: str) -> str:
    """The account's cash written with an unquoted thousands separator (alder)."""
    cash = files.frames["cash"]
    files.frames["cash"] = _mark(cash, pl.col("account_id") == lot["account_id"], fault_id)
    files.text_overrides[fault_id] = ("cash", RAGGED_NUMBER)
    files.unquoted.add(fault_id)
    return "cash"


def _split_not_applied(rng, files: DayFiles, lot: dict, fault_id: str) -> str:
    files.frames["lots"] = _mark(
        files.frames["lots"],
        _holding(lot),
        fault_id,
        quantity=pl.col("quantity") / SPLIT_SECURITY[1],
    )
    return "lots"


def _symbol_change_not_applied(rng, files: DayFiles, lot: dict, fault_id: str) -> str:
    for kind in ("positions", "lots"):
        files.frames[kind] = _mark(
            files.frames[kind], _holding(lot), fault_id, symbol=pl.lit(SYMBOL_CHANGE[1])
        )
    return "positions"


_INJECTORS = {
    "duplicate_rows": _duplicate_rows,
    "unknown_security": _unknown_security,
    "reconciliation_break": _reconciliation_break,
    "negative_quantity": _negative_quantity,
    "malformed_number": _malformed_number,
    "malformed_date": _malformed_date,
    "ragged_row": _ragged_row,
    "split_not_applied": _split_not_applied,
    "symbol_change_not_applied": _symbol_change_not_applied,
}
