"""The pre-release rules every released or queued trade must pass.

Each rule is re-derived here from the canonical tables (accounts, securities, lots, cash,
cash requests, restrictions, holds, halts), validation's account status and the plain-data
feature tables (positions, the date's closes, the household's wash-sale history), never
from the optimizer's constraints or routing's rules: a defect in the engine that proposed
the trades must not be able to hide from the stage that checks them.

Every rule returns one row per violation (``VIOLATIONS``): the account, the rule, the
trade or order it is about (security, side, lot where it names one) and a message that
names the trade. Trades are valued at the date's close (``security_prices``), not at a
price the proposal carries. What the rules read is in ``facts.py``; the rules on orders
are in ``order_rules.py``, the wash-sale rule in ``wash_sales.py``; ``RULES`` lists them all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.compliance.facts import (
    CASH_TOLERANCE,
    QUANTITY_TOLERANCE,
    SIDES,
    VIOLATIONS,
    RuleContext,
    each_case,
    restricted_trades,
    violations,
)
from rebalance_pipeline.compliance.order_rules import min_trade_sizes, round_lots
from rebalance_pipeline.compliance.wash_sales import wash_sales
from rebalance_pipeline.features.macros import active_on
from rebalance_pipeline.routing.route import TRADING_ROUTES

INVALID_TRADE = "invalid_trade"
ACCOUNT_NOT_TRADABLE = "account_not_tradable"
HALTED_SECURITY = "halted_security"
RESTRICTED_BUY = "restricted_buy"
SELL_LOT = "sell_lot"
SHORT_POSITION = "short_position"
NEGATIVE_CASH = "negative_cash"
WASH_SALE = "wash_sale"
ROUND_LOT = "round_lot"
MIN_TRADE_SIZE = "min_trade_size"
REBALANCE_TYPE = "rebalance_type"


def invalid_trades(ctx: RuleContext) -> pl.DataFrame:
    """A trade must be a buy or a sell of a positive quantity of a known security with a
    close on the date (otherwise no other rule can judge it)."""
    quantity = pl.col("quantity")
    return each_case(
        ctx.trades,
        [
            (
                ~pl.col("side").is_in(SIDES) | pl.col("side").is_null(),
                pl.format("{}: the side must be buy or sell", "trade"),
            ),
            (
                quantity.is_null() | quantity.is_nan() | quantity.is_infinite() | (quantity <= 0),
                pl.format("{}: the quantity must be a positive number", "trade"),
            ),
            (
                ~pl.col("known_security"),
                pl.format("{}: the security is not in the security master", "trade"),
            ),
            (
                pl.col("known_security") & pl.col("close").is_null(),
                pl.format("{}: no close on the date, the trade cannot be valued", "trade"),
            ),
        ],
    )


def _active_spans(frame: pl.DataFrame, key: str, as_of: dt.date) -> pl.DataFrame:
    """Per ``key``: the first hold or halt active on the date, as text."""
    span = pl.format(
        "{}..{} ({})",
        "start_date",
        pl.col("end_date").cast(t.Utf8).fill_null("open-ended"),
        pl.col("reason").fill_null("no reason given"),
    )
    return (
        active_on(frame, as_of)
        .sort(key, "start_date", "end_date", "reason", nulls_last=True)
        .group_by(key, maintain_order=True)
        .agg(span.first().alias("span"))
    )


def untradable_accounts(ctx: RuleContext) -> pl.DataFrame:
    """No trade for an account outside the master, routed to a non-trading route,
    suspended by validation or on a hold active on the date."""
    holds = _active_spans(ctx.inputs.holds, "account_id", ctx.as_of)
    trades = ctx.trades.join(holds, on="account_id", how="left", maintain_order="left")
    route = pl.col("account_route")
    return each_case(
        trades,
        [
            (
                ~pl.col("known_account"),
                pl.format("{}: the account is not in the account master", "trade"),
            ),
            (
                route.is_null() | ~route.is_in(TRADING_ROUTES),
                pl.format("{}: the account is routed {}", "trade", route.fill_null("nowhere")),
            ),
            (
                pl.col("account_status").is_null() | (pl.col("account_status") != "ok"),
                pl.format(
                    "{}: validation status {}",
                    "trade",
                    pl.col("account_status").fill_null("missing"),
                ),
            ),
            (
                pl.col("span").is_not_null(),
                pl.format("{}: the account is on hold {}", "trade", "span"),
            ),
        ],
    )


def halted_securities(ctx: RuleContext) -> pl.DataFrame:
    """No trade, buy or sell, of a security halted on the date."""
    halts = _active_spans(ctx.inputs.halts, "security_id", ctx.as_of)
    halted = ctx.trades.join(halts, on="security_id", how="inner", maintain_order="left")
    return violations(halted, pl.format("{}: the security is halted {}", "trade", "span"))


def restricted_buys(ctx: RuleContext) -> pl.DataFrame:
    """No buy of a security restricted for the account or its household (by security or
    sector)."""
    buys = ctx.trades.filter(pl.col("side") == "buy")
    restricted = restricted_trades(buys, ctx.inputs.restrictions).sort("trade_index")
    return violations(
        restricted, pl.format("{}: restricted for the account ({})", "trade", "restriction_ids")
    )


def rebalance_types(ctx: RuleContext) -> pl.DataFrame:
    """No trade the account master's rebalance type forbids: a sell of a buy_only
    account, a buy of a raise_cash one, a sell of a harvest_only one that realizes no
    loss at the date's close (or has no tax effect: the account is not taxable)."""
    kind, side = pl.col("rebalance_type"), pl.col("side")
    shares_cost = pl.col("lot_cost_basis") * pl.col("quantity") / pl.col("lot_quantity")
    no_loss = (pl.col("value") >= shares_cost) | (pl.col("registration") != "taxable")
    return each_case(
        ctx.trades,
        [
            (
                (kind == "buy_only") & (side == "sell"),
                pl.format("{}: buy_only never sells", "trade"),
            ),
            (
                (kind == "raise_cash") & (side == "buy"),
                pl.format("{}: raise_cash never buys", "trade"),
            ),
            (
                (kind == "harvest_only") & (side == "sell") & no_loss,
                pl.format("{}: harvest_only sells only lots at a loss", "trade"),
            ),
        ],
    )


def sell_lots(ctx: RuleContext) -> pl.DataFrame:
    """A sell names a lot of the account in its security, and the account's sells of a
    lot add up to no more than the lot holds."""
    sells = ctx.trades.filter(pl.col("side") == "sell")
    named = each_case(
        sells,
        [
            (pl.col("lot_id").is_null(), pl.format("{}: the sell names no lot", "trade")),
            (
                pl.col("lot_id").is_not_null() & ~pl.col("lot_found"),
                pl.format("{}: lot {} is not a lot of the account", "trade", "lot_id"),
            ),
            (
                pl.col("lot_found") & (pl.col("lot_security_id") != pl.col("security_id")),
                pl.format("{}: lot {} holds {}", "trade", "lot_id", "lot_security_id"),
            ),
        ],
    )
    per_lot = (
        sells.filter(pl.col("lot_found") & (pl.col("lot_security_id") == pl.col("security_id")))
        .group_by("account_id", "lot_id")
        .agg(
            pl.col("security_id").first(),
            pl.col("side").first(),
            pl.col("quantity").sum().alias("sold"),
            pl.col("lot_quantity").first(),
        )
    )
    oversold = per_lot.filter(
        pl.col("lot_quantity").is_null()
        | (pl.col("sold") > pl.col("lot_quantity") + QUANTITY_TOLERANCE)
    )
    message = pl.format(
        "sells {} of lot {} ({}) holding {}",
        "sold",
        "lot_id",
        "security_id",
        pl.col("lot_quantity").cast(t.Utf8).fill_null("an unknown quantity"),
    )
    return pl.concat([named, violations(oversold, message)])


def _signed(column: str) -> pl.Expr:
    """``column`` with buys positive and sells negative."""
    return pl.when(pl.col("side") == "sell").then(-pl.col(column)).otherwise(pl.col(column))


def short_positions(ctx: RuleContext) -> pl.DataFrame:
    """No account ends up short a security: position + buys - sells >= 0."""
    net = (
        ctx.trades.filter(pl.col("side").is_in(SIDES))
        .group_by("account_id", "security_id")
        .agg(_signed("quantity").sum().alias("net"))
    )
    after = net.join(ctx.held_positions, on=["account_id", "security_id"], how="left").with_columns(
        pl.col("held").fill_null(0.0),
        (pl.col("held").fill_null(0.0) + pl.col("net")).alias("after"),
        pl.lit("sell").alias("side"),
    )
    short = after.filter(pl.col("after") < -QUANTITY_TOLERANCE)
    message = pl.format(
        "{}: holds {}, trades {} net, short {} after the trades",
        "security_id",
        "held",
        "net",
        "after",
    )
    return violations(short, message, lot=False)


def negative_cash(ctx: RuleContext) -> pl.DataFrame:
    """Cash + sells - buys - estimated costs - due withdrawals >= 0 (to a cent)."""
    rate = ctx.optimization.transaction_cost_bps * 1e-4
    cash = ctx.inputs.cash_balances.group_by("account_id").agg(pl.col("cash").sum())
    due = (
        ctx.inputs.cash_requests.filter(pl.col("due_date") <= ctx.as_of)
        .group_by("account_id")
        .agg(pl.col("amount").clip(lower_bound=0.0).sum().alias("withdrawals"))
    )
    flows = ctx.trades.group_by("account_id").agg(
        pl.col("value").filter(pl.col("side") == "sell").sum().alias("sells"),
        pl.col("value").filter(pl.col("side") == "buy").sum().alias("buys"),
    )
    money = (
        flows.join(cash, on="account_id", how="left")
        .join(due, on="account_id", how="left")
        .with_columns(
            pl.col("cash", "withdrawals").fill_null(0.0),
            (rate * (pl.col("sells") + pl.col("buys"))).alias("costs"),
        )
        .with_columns(
            (
                pl.col("cash")
                + pl.col("sells")
                - pl.col("buys")
                - pl.col("costs")
                - pl.col("withdrawals")
            ).alias("after")
        )
    )
    short = money.filter(pl.col("after") < -CASH_TOLERANCE).with_columns(
        pl.lit(None, t.Utf8).alias("security_id"), pl.lit(None, t.Utf8).alias("side")
    )
    largest = (  # only the short accounts' trades are described
        ctx.trades.join(short.select("account_id"), on="account_id", how="semi")
        .group_by("account_id")
        .agg(_largest_trades().alias("trades"))
    )
    short = short.join(largest, on="account_id", how="left", maintain_order="left")
    message = pl.format(
        "cash {} + sells {} - buys {} - estimated costs {} - due withdrawals {} = {} < 0 ({})",
        *(pl.col(c).round(2) for c in ("cash", "sells", "buys", "costs", "withdrawals", "after")),
        "trades",
    )
    return violations(short, message, lot=False)


def _largest_trades(shown: int = 3) -> pl.Expr:
    """The account's largest trades by value as text, e.g. 'buy 300.0 SEC-EQ, ... and 2 more'."""
    largest = pl.col("trade").sort_by("value", "trade", descending=[True, False], nulls_last=True)
    more = pl.len().cast(t.I64) - shown
    return pl.concat_str(
        largest.head(shown).str.join(", "),
        pl.when(more > 0).then(pl.format(" and {} more", more)).otherwise(pl.lit("")),
    )


RULES: dict[str, Callable[[RuleContext], pl.DataFrame]] = {
    INVALID_TRADE: invalid_trades,
    ACCOUNT_NOT_TRADABLE: untradable_accounts,
    HALTED_SECURITY: halted_securities,
    RESTRICTED_BUY: restricted_buys,
    SELL_LOT: sell_lots,
    SHORT_POSITION: short_positions,
    NEGATIVE_CASH: negative_cash,
    WASH_SALE: wash_sales,
    ROUND_LOT: round_lots,
    MIN_TRADE_SIZE: min_trade_sizes,
    REBALANCE_TYPE: rebalance_types,
}


def find_violations(ctx: RuleContext) -> pl.DataFrame:
    """VIOLATIONS of every rule by the trades of ``ctx``, in a deterministic order."""
    found = [rule(ctx).with_columns(pl.lit(name).alias("rule")) for name, rule in RULES.items()]
    return (
        t.conform(pl.concat(found), VIOLATIONS)
        .unique(maintain_order=True)
        .sort(["account_id", "rule", "security_id", "side", "lot_id", "message"], nulls_last=True)
    )
