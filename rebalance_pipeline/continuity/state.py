"""A date's book carried on from what the firm released before it.

``continue_book`` applies the release ledger (as of the date) to the canonical book
before validation: the firm's last trade date of every account, the cash requests still
to raise, cash reserved for requests raised and not yet paid, the open pending orders as
transactions of their release date (the household's wash-sale windows), and (policy
``pending_orders: net``) the open pending orders netted into lots, positions and cash.
With ``hold`` the book's holdings stay as the custodian sent them and routing holds the
accounts with open pending orders.
"""

from __future__ import annotations

import dataclasses

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book
from rebalance_pipeline.calendar import business_days_between
from rebalance_pipeline.continuity.cash_requests import (
    cash_request_status,
    open_requests,
    reserved_cash,
)
from rebalance_pipeline.continuity.ledger import Ledger
from rebalance_pipeline.continuity.pending import (
    net_into_book,
    pending_orders,
    pending_transactions,
)
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation.findings import finalize

PENDING_EXPIRED = "pending_order_expired"
CASH_REQUEST_OVERDUE = "cash_request_overdue"


@dataclasses.dataclass(frozen=True)
class Continuity:
    book: Book  # the book the stages run on
    pending_orders: pl.DataFrame  # PENDING_ORDERS (open and expired)
    cash_request_status: pl.DataFrame  # CASH_REQUEST_STATUS
    findings: pl.DataFrame  # tables.FINDINGS, warnings scoped to their account


def continue_book(
    book: Book, ledger: Ledger, policy: Policy, cancellations: pl.DataFrame
) -> Continuity:
    """The book of ``book.as_of`` with the firm's earlier releases applied (see module doc)."""
    rules = policy.continuity
    pending = pending_orders(
        ledger.trades,
        book.transactions,
        book.as_of,
        rules.pending_expiry_business_days,
        rules.fill_tolerance,
        policy.validation.lookback_business_days,
    )
    status = cash_request_status(
        book.cash_requests, ledger.raised_requests, book.transactions, cancellations, book.as_of
    )
    carried = dataclasses.replace(
        book,
        accounts=_with_firm_trade_dates(book.accounts, ledger),
        cash_requests=open_requests(book.cash_requests, status),
        transactions=pl.concat([book.transactions, pending_transactions(book, pending)]),
    )
    netted = pending if rules.pending_orders == "net" else pending.clear()
    carried = net_into_book(carried, netted, reserved_cash(status))
    findings = pl.concat(
        [_expired_findings(pending), _overdue_findings(status, book, policy)],
        how="diagonal_relaxed",
    )
    return Continuity(carried, pending, status, finalize(findings, book.as_of))


def _with_firm_trade_dates(accounts: pl.DataFrame, ledger: Ledger) -> pl.DataFrame:
    """``last_firm_trade_date``: the later of the account master's and the ledger's."""
    latest = ledger.last_release_dates().rename({"last_firm_trade_date": "ledger_date"})
    joined = accounts.join(latest, on="account_id", how="left", maintain_order="left")
    return t.conform(
        joined.with_columns(
            pl.max_horizontal("last_firm_trade_date", "ledger_date").alias("last_firm_trade_date")
        ),
        t.ACCOUNTS,
    )


def _expired_findings(pending: pl.DataFrame) -> pl.DataFrame:
    expired = pending.filter(pl.col("status") == "expired")
    return expired.select(
        pl.lit(PENDING_EXPIRED).alias("check"),
        pl.lit("warning").alias("severity"),
        _ledger_file().alias("source_file"),
        "security_id",
        pl.concat_list("account_id").alias("account_ids"),
        pl.format(
            "released {} {} of {} on {} (batch {}) still open ({}) after the expiry: "
            "check with the custodian",
            "side",
            "released_quantity",
            "security_id",
            "release_date",
            "batch_id",
            "open_quantity",
        ).alias("message"),
    )


def _overdue_findings(status: pl.DataFrame, book: Book, policy: Policy) -> pl.DataFrame:
    grace = policy.continuity.cash_request_overdue_business_days
    raised = status.filter(pl.col("status") == "raised")
    overdue = raised.filter(
        pl.Series(
            [business_days_between(due, book.as_of) > grace for due in raised["due_date"]],
            dtype=pl.Boolean,
        )
    )
    return overdue.select(
        pl.lit(CASH_REQUEST_OVERDUE).alias("check"),
        pl.lit("warning").alias("severity"),
        pl.format("cash_requests:{}", "request_id").alias("source_file"),
        pl.lit(None, t.Utf8).alias("security_id"),
        pl.concat_list("account_id").alias("account_ids"),
        pl.format(
            "cash request {} of {} due {} was raised on {} and is not paid yet",
            "request_id",
            "amount",
            "due_date",
            "raised_date",
        ).alias("message"),
    )


def _ledger_file() -> pl.Expr:
    return pl.format("ledger/{}/{}.json", "release_date", "batch_id")
