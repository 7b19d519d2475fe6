"""The review queue as a CSV a person edits, and applying the decisions it comes back with.

A reviewer sets ``decision`` on each row: ``approve`` (release as proposed), ``reject``
(drop, with a record) or ``modify`` (release ``new_quantity`` instead, a decimal of at
most ``cells.QUANTITY_PLACES`` places). An account is settled only when every one of
its rows has a decision; its remaining trades are then re-checked (no sell beyond its
lot, enough cash for the required withdrawal, no buy of a restricted or halted security).
A failed re-check keeps the whole account in the queue, with one finding per failure.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.export.cells import (
    price_cell,
    quantity_cell,
    quantity_from_text,
    safe_text,
    trade_amount,
    unescape_text,
)
from rebalance_pipeline.routing.route import RELEASED_TRADES
from rebalance_pipeline.storage import atomic_write_bytes

DECISIONS = ("approve", "reject", "modify")
TRADE_KEY = ["account_id", "security_id", "side", "lot_id"]
REVIEW_FILE_COLUMNS = [
    *TRADE_KEY,
    "quantity",
    "price",
    "route",
    "reason",
    "decision",
    "new_quantity",
    "reviewer",
    "note",
]
NUMBER_CELLS = {"quantity": quantity_cell, "new_quantity": quantity_cell, "price": price_cell}
REVIEW_DECISIONS = pl.Schema(
    {
        "account_id": t.Utf8,
        "security_id": t.Utf8,
        "side": t.Utf8,
        "lot_id": t.Utf8,
        "quantity": t.F64,
        "decision": t.Utf8,
        "new_quantity": t.F64,
        "reviewer": t.Utf8,
        "note": t.Utf8,
    }
)
REVIEWED_TRADES = pl.Schema(
    {**RELEASED_TRADES, "decision": t.Utf8, "reviewer": t.Utf8, "note": t.Utf8}
)
REVIEW_FINDINGS = pl.Schema(
    {
        "account_id": t.Utf8,
        "security_id": t.Utf8,
        "lot_id": t.Utf8,
        "check": t.Utf8,
        "message": t.Utf8,
    }
)
CASH_TOLERANCE = 0.005
QUANTITY_TOLERANCE = 1e-9


class ReviewFileError(ValueError):
    """A review decisions file that cannot be read; the message names the row and column."""


@dataclasses.dataclass(frozen=True)
class ReviewContext:
    """What a modified proposal is re-checked against, from the date's tables."""

    lots: pl.DataFrame  # account_id, lot_id, quantity (tables.TAX_LOTS or tables.LOTS)
    cash: pl.DataFrame  # account_id, cash_before, required_cash (OPTIMIZATION_RESULTS)
    restricted: pl.DataFrame  # account_id, security_id (tables.RESTRICTED_SECURITIES)
    halted: pl.DataFrame  # security_id (tables.ACTIVE_HALTS)

    @classmethod
    def from_tables(
        cls,
        lots: pl.DataFrame,
        optimization_results: pl.DataFrame,
        restricted_securities: pl.DataFrame,
        active_halts: pl.DataFrame,
    ) -> ReviewContext:
        """From the date's TAX_LOTS (or LOTS), OPTIMIZATION_RESULTS,
        RESTRICTED_SECURITIES and ACTIVE_HALTS."""
        return cls(
            lots=lots.select("account_id", "lot_id", "quantity"),
            cash=optimization_results.select("account_id", "cash_before", "required_cash"),
            restricted=restricted_securities.select("account_id", "security_id"),
            halted=active_halts.select("security_id"),
        )


class ReviewOutcome(NamedTuple):
    released: pl.DataFrame  # REVIEWED_TRADES, quantity and amount as released
    rejected: pl.DataFrame  # REVIEWED_TRADES, as proposed
    findings: pl.DataFrame  # REVIEW_FINDINGS: why an account stays in the queue


def review_queue_csv(queue: pl.DataFrame) -> str:
    """The queue as the CSV a reviewer edits (decision columns empty when pending)."""
    rows = queue.sort(TRADE_KEY, nulls_last=True).iter_rows(named=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REVIEW_FILE_COLUMNS)
    writer.writerows(
        [_cell(column, row.get(column)) for column in REVIEW_FILE_COLUMNS] for row in rows
    )
    return buffer.getvalue()


def write_review_queue(queue: pl.DataFrame, path: Path) -> None:
    atomic_write_bytes(path, review_queue_csv(queue).encode("utf-8"))


def _cell(column: str, value: Any) -> str:
    """Quantities and prices as the trade files write them, everything else as safe text."""
    if column in NUMBER_CELLS:
        return NUMBER_CELLS[column](value)
    return safe_text(value if value is None else str(value))


def read_review_decisions(path: Path) -> pl.DataFrame:
    """Read a reviewed queue file into ``REVIEW_DECISIONS`` rows (empty decision = pending).

    Raises ``ReviewFileError`` naming the line and column of the first malformed cell.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REVIEW_DECISIONS.names() if c not in (reader.fieldnames or [])]
        if missing:
            raise ReviewFileError(f"{path}: line 1: missing columns {missing}")
        rows = [_decision_row(path, line, row) for line, row in enumerate(reader, start=2)]
    return pl.DataFrame(rows, schema=REVIEW_DECISIONS, orient="row")


def _decision_row(path: Path, line: int, row: dict[str, str | None]) -> tuple:
    def text(column: str) -> str | None:
        value = unescape_text((row.get(column) or "").strip())
        return value or None

    def number(column: str) -> float | None:
        """A quantity read as the exact decimal typed (``0.3`` stays 0.3), at most
        ``cells.QUANTITY_PLACES`` places."""
        value = text(column)
        if value is None:
            return None
        try:
            parsed = quantity_from_text(value)
        except ValueError as exc:
            raise ReviewFileError(f"{path}: line {line}, column {column}: {exc}") from None
        if parsed < 0:
            raise ReviewFileError(f"{path}: line {line}, column {column}: must be a number >= 0")
        return float(parsed)

    decision = (text("decision") or "").lower() or None
    if decision is not None and decision not in DECISIONS:
        raise ReviewFileError(
            f"{path}: line {line}, column decision: {decision!r} is not one of {DECISIONS}"
        )
    new_quantity = number("new_quantity")
    if decision == "modify" and new_quantity is None:
        raise ReviewFileError(f"{path}: line {line}, column new_quantity: required by modify")
    for column in ("account_id", "security_id", "side"):
        if text(column) is None:
            raise ReviewFileError(f"{path}: line {line}, column {column}: empty")
    return (
        text("account_id"),
        text("security_id"),
        text("side"),
        text("lot_id"),
        number("quantity"),
        decision,
        new_quantity,
        text("reviewer"),
        text("note"),
    )


def apply_review_decisions(
    review_queue: pl.DataFrame, decisions: pl.DataFrame, context: ReviewContext
) -> ReviewOutcome:
    """Release approved and re-checked modified trades; record rejected ones.

    Accounts with a pending row, a decision for a trade not in the queue or a failed
    re-check stay in the queue (see ``pending_queue``).
    """
    decided = _merge_decisions(review_queue, decisions)
    findings = pl.concat([_unknown_decisions(review_queue, decisions), _recheck(decided, context)])
    held = pl.concat([findings["account_id"], _pending_accounts(decided)]).unique()
    settled = decided.filter(~pl.col("account_id").is_in(held.implode()))
    kept = settled.filter(pl.col("final_quantity") > 0)
    released = kept.with_columns(
        pl.col("final_quantity").alias("quantity"), _written_amounts(kept).alias("amount")
    )
    rejected = settled.filter(pl.col("final_quantity") == 0)
    return ReviewOutcome(
        released=_sorted(t.conform(released, REVIEWED_TRADES)),
        rejected=_sorted(t.conform(rejected, REVIEWED_TRADES)),
        findings=t.conform(findings, REVIEW_FINDINGS).sort("account_id", "check", "security_id"),
    )


def _written_amounts(trades: pl.DataFrame) -> pl.Series:
    """Each final quantity times the written price, in cents, as the trade files write it."""
    pairs = trades.select("final_quantity", "price").iter_rows()
    return pl.Series([float(trade_amount(q, p)) for q, p in pairs], dtype=pl.Float64)


def pending_queue(review_queue: pl.DataFrame, outcome: ReviewOutcome) -> pl.DataFrame:
    """The queue rows of accounts that were neither released nor rejected."""
    settled = pl.concat([outcome.released["account_id"], outcome.rejected["account_id"]])
    return review_queue.filter(~pl.col("account_id").is_in(settled.unique().implode()))


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(TRADE_KEY, nulls_last=True)


def _merge_decisions(review_queue: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """Queue rows with the file's decision (the file wins over a decision already set)."""
    chosen = decisions.select(
        *TRADE_KEY,
        pl.col("decision").alias("_decision"),
        pl.col("new_quantity").alias("_new_quantity"),
        pl.col("reviewer").alias("_reviewer"),
        pl.col("note").alias("_note"),
    ).unique(TRADE_KEY, keep="last", maintain_order=True)
    merged = review_queue.join(chosen, on=TRADE_KEY, how="left", nulls_equal=True)
    merged = merged.with_columns(
        pl.coalesce(f"_{c}", c).alias(c) for c in ("decision", "new_quantity", "reviewer", "note")
    )
    final = (
        pl.when(pl.col("decision") == "approve")
        .then(pl.col("quantity"))
        .when(pl.col("decision") == "modify")
        .then(pl.col("new_quantity"))
        .when(pl.col("decision") == "reject")
        .then(0.0)
    )
    return merged.with_columns(final.alias("final_quantity"))


def _pending_accounts(decided: pl.DataFrame) -> pl.Series:
    return decided.filter(pl.col("decision").is_null())["account_id"]


def _unknown_decisions(review_queue: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """A decision for a trade the queue does not hold (a stale or edited file)."""
    unknown = decisions.filter(pl.col("decision").is_not_null()).join(
        review_queue.select(TRADE_KEY), on=TRADE_KEY, how="anti", nulls_equal=True
    )
    return _findings(unknown, "unknown_trade", "the decision names a trade not in the queue")


def _recheck(decided: pl.DataFrame, context: ReviewContext) -> pl.DataFrame:
    """Findings for settled accounts with trades to release that, as decided, break a rule.

    An account whose trades are all rejected releases nothing and is not re-checked.
    """
    pending = _pending_accounts(decided).implode()
    settled = decided.filter(~pl.col("account_id").is_in(pending))
    releasing = settled.filter(pl.col("final_quantity") > 0)
    accounts = settled.filter(pl.col("account_id").is_in(releasing["account_id"].implode()))
    return pl.concat(
        [
            _oversold_lots(releasing, context.lots),
            _short_of_cash(accounts, context.cash),
            _forbidden_buys(releasing, context),
        ]
    )


def _oversold_lots(trades: pl.DataFrame, lots: pl.DataFrame) -> pl.DataFrame:
    sold = (
        trades.filter(pl.col("side") == "sell")
        .group_by("account_id", "security_id", "lot_id")
        .agg(pl.col("final_quantity").sum().alias("sold"))
        .join(
            lots.select("account_id", "lot_id", pl.col("quantity").alias("held")),
            on=["account_id", "lot_id"],
            how="left",
        )
        .filter(pl.col("held").is_null() | (pl.col("sold") > pl.col("held") + QUANTITY_TOLERANCE))
    )
    return _findings(sold, "sell_exceeds_lot", "sells more than the lot holds (no short position)")


def _short_of_cash(decided: pl.DataFrame, cash: pl.DataFrame) -> pl.DataFrame:
    flow = pl.when(pl.col("side") == "sell").then(1.0).otherwise(-1.0)
    net = decided.group_by("account_id").agg(
        (flow * pl.col("final_quantity") * pl.col("price")).sum().alias("net_cash")
    )
    short = net.join(cash, on="account_id", how="left").filter(
        pl.col("cash_before").is_null()
        | (
            pl.col("cash_before") + pl.col("net_cash")
            < pl.col("required_cash").fill_null(0.0) - CASH_TOLERANCE
        )
    )
    return _findings(
        short.with_columns(pl.lit(None, t.Utf8).alias("security_id")),
        "cash_short",
        "cash after the trades is below the cash the account must raise",
    )


def _forbidden_buys(trades: pl.DataFrame, context: ReviewContext) -> pl.DataFrame:
    buys = trades.filter(pl.col("side") == "buy")
    restricted = buys.join(
        context.restricted.select("account_id", "security_id").unique(),
        on=["account_id", "security_id"],
        how="semi",
    )
    halted = buys.filter(pl.col("security_id").is_in(context.halted["security_id"].implode()))
    return pl.concat(
        [
            _findings(restricted, "restricted_buy", "buys a restricted security"),
            _findings(halted, "halted_buy", "buys a halted security"),
        ]
    )


def _findings(rows: pl.DataFrame, check: str, message: str) -> pl.DataFrame:
    lot = pl.col("lot_id") if "lot_id" in rows.columns else pl.lit(None, t.Utf8)
    return rows.select(
        pl.col("account_id").cast(t.Utf8),
        pl.col("security_id").cast(t.Utf8),
        lot.cast(t.Utf8).alias("lot_id"),
        pl.lit(check).alias("check"),
        pl.lit(message).alias("message"),
    )
