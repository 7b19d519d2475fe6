"""The household wash-sale rule, both ways and today's trades included: a loss sale
whose security (or an identical one) the household buys within the window, or a buy
within the window of a loss sale.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.compliance.facts import (
    TAXABLE,
    RuleContext,
    violations,
)

WASH_SALE_DAYS = 30


def _at_loss() -> pl.Expr:
    """A sell whose proceeds at the close are below its share of the lot's cost basis;
    unknown (no lot, no close, no basis) counts as a loss, as for the history windows."""
    share = pl.when(pl.col("lot_quantity") > 0).then(pl.col("quantity") / pl.col("lot_quantity"))
    return (pl.col("value") < pl.col("lot_cost_basis") * share).fill_null(True)


def todays_windows(trades: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """WASH_SALE_WINDOWS that the trades themselves open on the date: a taxable sell at a
    loss blocks household buys of its group, any buy blocks household loss sales."""
    loss_sales = trades.filter(
        (pl.col("side") == "sell") & (pl.col("registration") == TAXABLE) & _at_loss()
    ).with_columns(pl.lit("buy").alias("blocks"))
    buys = trades.filter(pl.col("side") == "buy").with_columns(pl.lit("loss_sale").alias("blocks"))
    return pl.concat([loss_sales, buys]).select(
        "household_id",
        "identical_group",
        "blocks",
        pl.lit(as_of).alias("window_start"),
        pl.lit(as_of + dt.timedelta(days=WASH_SALE_DAYS)).alias("window_end"),
        pl.col("account_id").alias("source_account_id"),
        pl.col("security_id").alias("source_security_id"),
        pl.format("today: {}", "trade").alias("source_transaction_id"),
    )


def wash_sales(ctx: RuleContext) -> pl.DataFrame:
    """The household wash-sale rule, both directions, history and today's trades.

    A buy of a group is a wash within 30 days after a taxable loss sale of the group in
    the household; a taxable loss sale is a wash within 30 days after a household buy of
    the group, except of the buy that acquired the lot itself (same account and
    security, acquired on the window's date)."""
    trades = ctx.trades.filter(pl.col("known_account") & pl.col("known_security"))
    history = ctx.inputs.wash_sale_windows.filter(
        (pl.col("window_start") <= ctx.as_of) & (ctx.as_of <= pl.col("window_end"))
    )
    windows = pl.concat(
        [
            t.conform(frame, t.WASH_SALE_WINDOWS)
            for frame in (history, todays_windows(trades, ctx.as_of))
        ]
    )
    key = ["household_id", "identical_group"]
    blocked_buys = trades.filter(pl.col("side") == "buy").join(
        windows.filter(pl.col("blocks") == "buy"), on=key
    )
    loss_sales = trades.filter(
        (pl.col("side") == "sell") & (pl.col("registration") == TAXABLE) & _at_loss()
    )
    own_purchase = (
        (pl.col("source_account_id") == pl.col("account_id"))
        & (pl.col("source_security_id") == pl.col("lot_security_id"))
        & (pl.col("window_start") == pl.col("lot_acquired_date"))
    )
    washed_sales = loss_sales.join(windows.filter(pl.col("blocks") == "loss_sale"), on=key).filter(
        ~own_purchase.fill_null(False)
    )
    return pl.concat(
        [
            _first_window(blocked_buys, "buys group {} within 30 days after a taxable loss sale"),
            _first_window(washed_sales, "a taxable loss sale of group {} within 30 days of a buy"),
        ]
    )


def _first_window(washed: pl.DataFrame, what: str) -> pl.DataFrame:
    """One violation per trade, naming the earliest window that blocks it."""
    first = washed.sort(
        "trade_index", "window_start", "source_account_id", "source_security_id", nulls_last=True
    ).unique("trade_index", keep="first", maintain_order=True)
    message = pl.format(
        f"{{}}: {what} in household {{}} ({{}} {{}} on {{}})",
        "trade",
        "identical_group",
        "household_id",
        "source_account_id",
        "source_security_id",
        "window_start",
    )
    return violations(first, message)
