"""The cash-request lifecycle: requested -> raised -> paid, or cancelled.

A request is *raised* when a released batch traded its account for it (the ledger
records which requests a batch raised), *paid* when the custodian's transactions show a
withdrawal of the account of at least its amount after the raise, *cancelled* when the
firm's cancellation file says so. Only *requested* ones are still mandates; the cash of
*raised* ones is reserved until paid, and a raised one unpaid past its due date plus the
policy's grace is overdue (a warning for operations).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from rebalance_pipeline import tables as t

CASH_REQUEST_STATUS = pl.Schema(
    {
        "request_id": t.Utf8,
        "account_id": t.Utf8,
        "amount": t.F64,
        "priority": t.Utf8,
        "due_date": t.Date,
        "status": t.Utf8,  # requested | raised | paid | cancelled
        "raised_date": t.Date,
        "raised_batch_id": t.Utf8,
        "paid_date": t.Date,
        "cancelled_date": t.Date,
    }
)
CANCELLATIONS = pl.Schema({"request_id": t.Utf8, "cancelled_date": t.Date})
CANCELLATIONS_FILE = "cash_request_cancellations.csv"  # under the book's firm/
AMOUNT_TOLERANCE = 0.005


def read_cancellations(book_root: Path) -> pl.DataFrame:
    """firm/cash_request_cancellations.csv (request_id, cancelled_date); empty when absent."""
    path = book_root / "firm" / CANCELLATIONS_FILE
    if not path.is_file():
        return t.empty(CANCELLATIONS)
    frame = pl.read_csv(path, infer_schema=False)
    return t.conform(
        frame.with_columns(pl.col("cancelled_date").str.strptime(pl.Date, "%Y-%m-%d")),
        CANCELLATIONS,
    )


def cash_request_status(
    cash_requests: pl.DataFrame,
    raised_requests: pl.DataFrame,
    transactions: pl.DataFrame,
    cancellations: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """CASH_REQUEST_STATUS of every request of the book (CASH_REQUESTS) as of ``as_of``."""
    first_raise = (
        raised_requests.sort("release_date", "batch_id")
        .group_by("request_id", maintain_order=True)
        .first()
        .select(
            "request_id",
            pl.col("release_date").alias("raised_date"),
            pl.col("batch_id").alias("raised_batch_id"),
        )
    )
    cancelled = (
        cancellations.filter(pl.col("cancelled_date") <= as_of)
        .group_by("request_id")
        .agg(pl.col("cancelled_date").min())
    )
    requests = (
        cash_requests.join(first_raise, on="request_id", how="left")
        .join(cancelled, on="request_id", how="left")
        .sort("raised_date", "request_id", nulls_last=True)
    )
    paid = _paid_dates(requests, transactions, as_of)
    status = (
        pl.when(pl.col("paid_date").is_not_null())
        .then(pl.lit("paid"))
        .when(pl.col("cancelled_date").is_not_null())
        .then(pl.lit("cancelled"))
        .when(pl.col("raised_date").is_not_null())
        .then(pl.lit("raised"))
        .otherwise(pl.lit("requested"))
    )
    out = requests.with_columns(pl.Series("paid_date", paid, t.Date)).with_columns(
        status.alias("status")
    )
    return t.conform(out, CASH_REQUEST_STATUS).sort("request_id")


def _paid_dates(
    requests: pl.DataFrame, transactions: pl.DataFrame, as_of: dt.date
) -> list[dt.date | None]:
    """Each raised request's paying withdrawal (oldest raise first; a withdrawal pays once)."""
    withdrawals = (
        transactions.filter((pl.col("type") == "withdrawal") & (pl.col("trade_date") <= as_of))
        .select("transaction_id", "account_id", "trade_date", pl.col("amount").abs())
        .sort("trade_date", "transaction_id")
        .to_dicts()
    )
    used: set[int] = set()
    paid: list[dt.date | None] = []
    for request in requests.iter_rows(named=True):
        match = None
        if request["raised_date"] is not None:
            match = next(
                (
                    i
                    for i, w in enumerate(withdrawals)
                    if i not in used
                    and w["account_id"] == request["account_id"]
                    and w["trade_date"] > request["raised_date"]
                    and (w["amount"] or 0.0) >= (request["amount"] or 0.0) - AMOUNT_TOLERANCE
                ),
                None,
            )
        if match is not None:
            used.add(match)
        paid.append(withdrawals[match]["trade_date"] if match is not None else None)
    return paid


def reserved_cash(status: pl.DataFrame) -> pl.DataFrame:
    """account_id, cash_delta: minus the amounts raised and not yet paid (kept for the payout)."""
    return (
        status.filter(pl.col("status") == "raised")
        .group_by("account_id")
        .agg((-pl.col("amount").fill_null(0.0).sum()).alias("cash_delta"))
        .sort("account_id")
    )


def open_requests(cash_requests: pl.DataFrame, status: pl.DataFrame) -> pl.DataFrame:
    """The book's requests still to be raised (status ``requested``)."""
    requested = status.filter(pl.col("status") == "requested").select("request_id")
    return cash_requests.join(requested, on="request_id", how="semi")


def requests_raised_by(
    cash_requests: pl.DataFrame,
    decisions: pl.DataFrame,
    released: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """request_id, account_id, amount: the due requests a release raises.

    An account raises its due open requests (``cash_requests`` already holds only those)
    when its route's reasons include a cash-request mandate and either it has released
    trades or it needed none (NO_TRADE: the optimizer met the withdrawal from the cash
    already there). Suspended, manual, held and halted accounts raise nothing.
    """
    mandated = decisions.filter(
        pl.col("reasons").list.eval(pl.element().str.starts_with("cash_request")).list.any()
    )
    no_trade_needed = mandated.filter(pl.col("route") == "NO_TRADE").select("account_id")
    traded = pl.concat(
        [
            released.select("account_id").unique().join(mandated, on="account_id", how="semi"),
            no_trade_needed,
        ]
    ).unique()
    due = cash_requests.filter((pl.col("due_date") <= as_of) & (pl.col("amount") > 0))
    return (
        due.join(traded, on="account_id", how="semi")
        .select("request_id", "account_id", "amount")
        .sort("request_id")
    )
