"""The rules on orders (trades summed per account, security and side): round lots and
the minimum order size, when the policy sets them.
"""

from __future__ import annotations

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.compliance.facts import (
    ORDER_KEY,
    QUANTITY_TOLERANCE,
    SIDES,
    VIOLATIONS,
    RuleContext,
    restricted_trades,
    violations,
)


def _orders(ctx: RuleContext) -> pl.DataFrame:
    """Trades summed per account x security x side (an order), with the position held."""
    return (
        ctx.trades.filter(pl.col("side").is_in(SIDES))
        .group_by(ORDER_KEY)
        .agg(
            pl.col("quantity").sum(),
            pl.col("value").sum(),
            pl.col("round_lot").first(),
        )
        .join(ctx.held_positions, on=["account_id", "security_id"], how="left")
        .sort(ORDER_KEY)
    )


def round_lots(ctx: RuleContext) -> pl.DataFrame:
    """Under ``round_lots`` an order is a multiple of the security's round lot, except a
    sell that closes the position."""
    if not ctx.optimization.round_lots:
        return t.empty(VIOLATIONS).drop("rule")
    orders = _orders(ctx)
    lots = pl.col("quantity") / pl.col("round_lot")
    off_lot = (lots - lots.round(0)).abs() > QUANTITY_TOLERANCE
    closes = (pl.col("side") == "sell") & (
        (pl.col("quantity") - pl.col("held")).abs() <= QUANTITY_TOLERANCE
    )
    broken = orders.filter(off_lot & ~closes.fill_null(False))
    message = pl.format(
        "{} {} {}: not a multiple of the round lot {}",
        "side",
        "quantity",
        "security_id",
        "round_lot",
    )
    return violations(broken, message, lot=False)


def min_trade_sizes(ctx: RuleContext) -> pl.DataFrame:
    """An order is worth at least ``min_trade_usd`` at the close, except a sell of a
    security restricted for the account (it goes however small)."""
    minimum = ctx.optimization.min_trade_usd
    if minimum <= 0:
        return t.empty(VIOLATIONS).drop("rule")
    restricted = restricted_trades(ctx.trades, ctx.inputs.restrictions).select(
        "account_id", "security_id", pl.lit(True).alias("restricted")
    )
    orders = _orders(ctx).join(restricted.unique(), on=["account_id", "security_id"], how="left")
    exempt = (pl.col("side") == "sell") & pl.col("restricted").fill_null(False)
    small = orders.filter((pl.col("value") < minimum) & ~exempt)
    message = pl.format(
        "{} {} {}: worth {} at the close, under the minimum order of {}",
        "side",
        "quantity",
        "security_id",
        pl.col("value").round(2),
        pl.lit(minimum),
    )
    return violations(small, message, lot=False)
