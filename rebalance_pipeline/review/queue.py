"""The review queue as a CSV a person edits, and applying the decisions it comes back with.

A reviewer sets ``decision`` on each row: ``approve`` (release as proposed), ``reject``
(drop, with a record) or ``modify`` (release ``new_quantity`` instead, a decimal of at
most ``cells.QUANTITY_PLACES`` places). An account is settled only when every one of
its rows has a decision; the trades it would then release must pass the compliance rules
(``compliance.rules``, the same rules as the pre-release stage), judged together with
every trade the date already released. A violation keeps the whole account in the
queue, with one finding per violation.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.compliance import ComplianceInputs, violations_of
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.reporting.cells import (
    price_cell,
    quantity_cell,
    quantity_from_text,
    safe_text,
    trade_amount,
    unescape_text,
)
from rebalance_pipeline.routing.route import RELEASED_TRADES, REVIEW_QUEUE, RoutingOutput
from rebalance_pipeline.storage import atomic_write_bytes

DECISIONS = ("approve", "reject", "modify")
DELIMITERS = (",", ";", "\t")
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


class ReviewFileError(ValueError):
    """A review decisions file that cannot be read; the message names the row and column."""


@dataclasses.dataclass(frozen=True)
class ReviewContext:
    """What the trades a review releases are judged against: the compliance rules' inputs
    of the date, the policy in force, the date and its routing decisions (a trade leaves
    only for an account routed to trade)."""

    inputs: ComplianceInputs
    policy: Policy
    as_of: dt.date
    routing_decisions: pl.DataFrame  # tables.ROUTING_DECISIONS

    @staticmethod
    def table_names() -> tuple[str, ...]:
        """The date's stored tables the context is made of."""
        return (*ComplianceInputs.table_names(), "routing_decisions")

    @classmethod
    def from_tables(
        cls, tables: Mapping[str, pl.DataFrame], policy: Policy, as_of: dt.date
    ) -> ReviewContext:
        """From the date's tables of ``table_names`` (more may be given)."""
        return cls(ComplianceInputs.from_tables(tables), policy, as_of, tables["routing_decisions"])


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

    The file may come back from a spreadsheet: a UTF-8 byte order mark, CRLF line ends,
    ``;`` or tab as the delimiter (told by the header) and rows of empty cells are read as
    the queue's own CSV would be.
    Raises ``ReviewFileError`` naming the line and column of the first malformed cell, or
    what makes the file unreadable.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise ReviewFileError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as "
            "CSV UTF-8 (comma delimited)"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    missing = [c for c in REVIEW_DECISIONS.names() if c not in (reader.fieldnames or [])]
    if missing:
        raise ReviewFileError(
            f"{path}: line 1: missing columns {missing} (the header reads {reader.fieldnames})"
        )
    rows = [
        _decision_row(path, line, row)
        for line, row in enumerate(reader, start=2)
        if not _blank(row)
    ]
    return pl.DataFrame(rows, schema=REVIEW_DECISIONS, orient="row")


def _blank(row: dict[str, str | None]) -> bool:
    """A row of empty cells (a spreadsheet keeps rows someone cleared): no decision."""
    return not any((row[column] or "").strip() for column in REVIEW_FILE_COLUMNS if column in row)


def _delimiter(text: str) -> str:
    """The delimiter of the header line: a comma, or the ``;`` or tab a spreadsheet
    saved instead (whichever separates the most cells)."""
    header = text.splitlines()[0] if text else ""
    return max(DELIMITERS, key=header.count)


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
    review_queue: pl.DataFrame,
    decisions: pl.DataFrame,
    released: pl.DataFrame,
    context: ReviewContext,
) -> ReviewOutcome:
    """Release approved and modified trades that pass the compliance rules; record
    rejected ones.

    ``released`` holds the trades the date already released (its run batch and earlier
    review batches: account, security, side, lot, quantity). Accounts with a pending
    row, a decision for a trade not in the queue or a violation stay in the queue (see
    ``pending_queue``). A settled account ``released`` already holds is not judged again.
    """
    decided = _merge_decisions(review_queue, decisions)
    findings = pl.concat(
        [
            _unknown_decisions(review_queue, decisions),
            _compliance_findings(decided, released, context),
        ]
    )
    held = pl.concat([findings["account_id"], _pending_accounts(decided)]).unique()
    settled = decided.filter(~pl.col("account_id").is_in(held.implode()))
    kept = settled.filter(pl.col("final_quantity") > 0)
    released_now = kept.with_columns(
        pl.col("final_quantity").alias("quantity"),
        _written_amounts(kept).alias("amount"),
        _released_gains(),
    )
    rejected = settled.filter(pl.col("final_quantity") == 0)
    return ReviewOutcome(
        released=_sorted(t.conform(released_now, REVIEWED_TRADES)),
        rejected=_sorted(t.conform(rejected, REVIEWED_TRADES)),
        findings=t.conform(findings, REVIEW_FINDINGS).sort(
            REVIEW_FINDINGS.names(), nulls_last=True
        ),
    )


def _released_gains() -> pl.Expr:
    """A sell's realized gain for the quantity released: a lot's gain is per share, so a
    cut sell realizes that share of the proposed gain."""
    share = pl.col("final_quantity") / pl.col("quantity")
    return (pl.col("realized_gain") * share).alias("realized_gain")


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


def decisions_off_the_queue(review_queue: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """The ``decisions`` rows with a decision for a trade the queue does not hold (a stale
    or edited file)."""
    return decisions.filter(pl.col("decision").is_not_null()).join(
        review_queue.select(TRADE_KEY), on=TRADE_KEY, how="anti", nulls_equal=True
    )


def _unknown_decisions(review_queue: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """Recorded decisions a replay's queue does not hold keep their account queued."""
    return decisions_off_the_queue(review_queue, decisions).select(
        "account_id",
        "security_id",
        "lot_id",
        pl.lit("unknown_trade").alias("check"),
        pl.lit("the decision names a trade not in the queue").alias("message"),
    )


def _compliance_findings(
    decided: pl.DataFrame, released: pl.DataFrame, context: ReviewContext
) -> pl.DataFrame:
    """One finding per compliance violation of an account this review releases (settled,
    with a trade to release, not released yet), ``check`` naming the rule.

    Its trades as decided are judged together with every trade the date released, so
    the household's same-day wash-sale rule and the account's cash see all that leaves
    that day; violations of accounts already released are not this review's. An account
    whose trades are all rejected releases nothing and is not judged.
    """
    not_judged = pl.concat([_pending_accounts(decided), released["account_id"]]).implode()
    releasing = decided.filter(
        ~pl.col("account_id").is_in(not_judged) & (pl.col("final_quantity") > 0)
    ).with_columns(pl.col("final_quantity").alias("quantity"))
    if releasing.is_empty():  # nothing of this review to judge (a run without decisions)
        return t.empty(REVIEW_FINDINGS)
    leaving = RoutingOutput(
        decisions=context.routing_decisions,
        released_trades=t.conform(released, RELEASED_TRADES),
        review_queue=t.conform(releasing, REVIEW_QUEUE),
    )
    found = violations_of(leaving, context.inputs, context.policy, context.as_of)
    return found.join(releasing.select("account_id").unique(), on="account_id", how="semi").select(
        "account_id", "security_id", "lot_id", pl.col("rule").alias("check"), "message"
    )
