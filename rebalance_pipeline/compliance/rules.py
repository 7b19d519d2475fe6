"""The pre-release rules every released or queued trade must pass.

Each rule is re-derived here from the canonical tables (accounts, securities, lots, cash,
cash requests, restrictions, holds, halts), validation's account status and the plain-data
feature tables (positions, the date's closes, the household's wash-sale history), never
from the optimizer's constraints or routing's rules: a defect in the engine that proposed
the trades must not be able to hide from the stage that checks them.

Every rule returns one row per violation (``VIOLATIONS``): the account, the rule, the
trade or order it is about (security, side, lot where it names one) and a message that
names the trade. Trades are valued at the date's close (``security_prices``), not at a
price the proposal carries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.features.macros import active_on
from rebalance_pipeline.policy import OptimizationPolicy
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

VIOLATIONS = pl.Schema(
    {
        "account_id": t.Utf8,
        "rule": t.Utf8,
        "security_id": t.Utf8,  # null for an account-level rule (cash)
        "side": t.Utf8,
        "lot_id": t.Utf8,  # the lot a sell names; null for orders and buys
        "message": t.Utf8,
    }
)
SIDES = ("buy", "sell")
TAXABLE = "taxable"
WASH_SALE_DAYS = 30
QUANTITY_TOLERANCE = 1e-6  # shares
CASH_TOLERANCE = 0.01  # dollars: a cent
TRADE_KEY = ["account_id", "security_id", "side", "lot_id"]
ORDER_KEY = ["account_id", "security_id", "side"]


@dataclasses.dataclass(frozen=True)
class ComplianceInputs:
    """What the rules read; field names are the tables' asset names."""

    accounts: pl.DataFrame  # tables.ACCOUNTS
    securities: pl.DataFrame  # tables.SECURITIES
    lots: pl.DataFrame  # tables.LOTS (continuity's open pending orders netted in)
    cash_balances: pl.DataFrame  # tables.CASH_BALANCES
    cash_requests: pl.DataFrame  # tables.CASH_REQUESTS (the requests still to raise)
    restrictions: pl.DataFrame  # tables.RESTRICTIONS
    holds: pl.DataFrame  # tables.HOLDS
    halts: pl.DataFrame  # tables.HALTS
    account_status: pl.DataFrame  # tables.ACCOUNT_STATUS
    account_positions: pl.DataFrame  # tables.ACCOUNT_POSITIONS
    security_prices: pl.DataFrame  # tables.SECURITY_PRICES
    wash_sale_windows: pl.DataFrame  # tables.WASH_SALE_WINDOWS (the household's history)

    @classmethod
    def table_names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def from_tables(cls, tables: Mapping[str, pl.DataFrame]) -> ComplianceInputs:
        """The tables of ``table_names`` picked out of ``tables`` (more may be given)."""
        return cls(**{name: tables[name] for name in cls.table_names()})


@dataclasses.dataclass(frozen=True)
class RuleContext:
    """The trades under check, each with the facts the rules read about it."""

    trades: pl.DataFrame  # see trade_facts
    inputs: ComplianceInputs
    optimization: OptimizationPolicy
    as_of: dt.date


def trade_facts(
    trades: pl.DataFrame, decisions: pl.DataFrame, inputs: ComplianceInputs
) -> pl.DataFrame:
    """``trades`` (PROPOSED_TRADES columns) with the account's household, registration,
    route and status, the security's group, sector, round lot and close, the named lot
    and a text naming the trade; ``value`` = quantity x the date's close."""
    accounts = inputs.accounts.select(
        "account_id", "household_id", "registration", pl.lit(True).alias("known_account")
    ).unique("account_id", keep="first")
    routes = decisions.select("account_id", pl.col("route").alias("account_route"))
    status = inputs.account_status.select(
        "account_id", pl.col("status").alias("account_status")
    ).unique("account_id", keep="first")
    securities = inputs.securities.select(
        "security_id",
        pl.coalesce("identical_group", "security_id").alias("identical_group"),
        "sector",
        pl.max_horizontal(pl.col("round_lot").fill_null(1), pl.lit(1)).alias("round_lot"),
        pl.lit(True).alias("known_security"),
    ).unique("security_id", keep="first")
    closes = inputs.security_prices.select("security_id", "close").unique(
        "security_id", keep="first"
    )
    lots = inputs.lots.select(
        "account_id",
        "lot_id",
        pl.col("security_id").alias("lot_security_id"),
        pl.col("quantity").alias("lot_quantity"),
        pl.col("cost_basis").alias("lot_cost_basis"),
        pl.col("acquired_date").alias("lot_acquired_date"),
        pl.lit(True).alias("lot_found"),
    ).unique(["account_id", "lot_id"], keep="first")
    joined = (
        trades.select(*TRADE_KEY, "quantity")
        .with_row_index("trade_index")
        .join(accounts, on="account_id", how="left", maintain_order="left")
        .join(
            routes.unique("account_id", keep="first"),
            on="account_id",
            how="left",
            maintain_order="left",
        )
        .join(status, on="account_id", how="left", maintain_order="left")
        .join(securities, on="security_id", how="left", maintain_order="left")
        .join(closes, on="security_id", how="left", maintain_order="left")
        .join(lots, on=["account_id", "lot_id"], how="left", maintain_order="left")
    )
    return joined.with_columns(
        pl.col("known_account", "known_security", "lot_found").fill_null(False),
        (pl.col("quantity") * pl.col("close")).alias("value"),
        _trade_text().alias("trade"),
    )


def _trade_text() -> pl.Expr:
    """e.g. 'sell 10.0 SEC-BOND lot A03-L1' or 'buy 5.0 SEC-LCAP'."""
    lot = pl.when(pl.col("lot_id").is_not_null()).then(pl.format(" lot {}", "lot_id"))
    return pl.format(
        "{} {} {}{}",
        *(pl.col(name).cast(t.Utf8).fill_null("?") for name in ("side", "quantity", "security_id")),
        lot.otherwise(pl.lit("")),
    )


def _violations(rows: pl.DataFrame, message: pl.Expr, lot: bool = True) -> pl.DataFrame:
    """Rows as violations (rule added by the caller); ``lot=False`` for orders."""
    return rows.select(
        pl.col("account_id").cast(t.Utf8),
        pl.col("security_id").cast(t.Utf8),
        pl.col("side").cast(t.Utf8),
        (pl.col("lot_id") if lot else pl.lit(None)).cast(t.Utf8).alias("lot_id"),
        message.cast(t.Utf8).alias("message"),
    )


def _each(rows: pl.DataFrame, cases: list[tuple[pl.Expr, pl.Expr]]) -> pl.DataFrame:
    """One violation per row and matching case (condition, message)."""
    return pl.concat(
        [_violations(rows.filter(when.fill_null(False)), message) for when, message in cases]
    )


def invalid_trades(ctx: RuleContext) -> pl.DataFrame:
    """A trade must be a buy or a sell of a positive quantity of a known security with a
    close on the date (otherwise no other rule can judge it)."""
    quantity = pl.col("quantity")
    return _each(
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
    return _each(
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
    return _violations(halted, pl.format("{}: the security is halted {}", "trade", "span"))


def restricted_trades(trades: pl.DataFrame, restrictions: pl.DataFrame) -> pl.DataFrame:
    """Trades with the restrictions that forbid their security to their account: the
    account's own and its household's, naming the security or its sector.

    One row per trade (``trade_index``) with ``restriction_ids``."""
    rules = restrictions.select(
        "restriction_id",
        "account_id",
        "household_id",
        pl.col("security_id").alias("restricted_security_id"),
        pl.col("sector").alias("restricted_sector"),
    )
    own = trades.join(
        rules.filter(pl.col("account_id").is_not_null()).drop("household_id"),
        on="account_id",
    )
    household = trades.join(
        rules.filter(pl.col("account_id").is_null() & pl.col("household_id").is_not_null()).drop(
            "account_id"
        ),
        on="household_id",
    )
    names = (pl.col("restricted_security_id") == pl.col("security_id")) | (
        pl.col("restricted_security_id").is_null()
        & (pl.col("restricted_sector") == pl.col("sector"))
    )
    matched = pl.concat([own, household], how="diagonal_relaxed").filter(names.fill_null(False))
    ids = pl.col("restriction_id").cast(t.Utf8).fill_null("?").unique().sort().str.join(", ")
    return (
        matched.group_by("trade_index")
        .agg(ids.alias("restriction_ids"))
        .join(trades, on="trade_index")
    )


def restricted_buys(ctx: RuleContext) -> pl.DataFrame:
    """No buy of a security restricted for the account or its household (by security or
    sector)."""
    buys = ctx.trades.filter(pl.col("side") == "buy")
    restricted = restricted_trades(buys, ctx.inputs.restrictions).sort("trade_index")
    return _violations(
        restricted, pl.format("{}: restricted for the account ({})", "trade", "restriction_ids")
    )


def sell_lots(ctx: RuleContext) -> pl.DataFrame:
    """A sell names a lot of the account in its security, and the account's sells of a
    lot add up to no more than the lot holds."""
    sells = ctx.trades.filter(pl.col("side") == "sell")
    named = _each(
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
    return pl.concat([named, _violations(oversold, message)])


def _held(inputs: ComplianceInputs) -> pl.DataFrame:
    """account_id, security_id, held: the account's position before the trades."""
    return inputs.account_positions.group_by("account_id", "security_id").agg(
        pl.col("quantity").sum().alias("held")
    )


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
    after = net.join(_held(ctx.inputs), on=["account_id", "security_id"], how="left").with_columns(
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
    return _violations(short, message, lot=False)


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
        _largest_trades().alias("trades"),
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
    message = pl.format(
        "cash {} + sells {} - buys {} - estimated costs {} - due withdrawals {} = {} < 0 ({})",
        *(pl.col(c).round(2) for c in ("cash", "sells", "buys", "costs", "withdrawals", "after")),
        "trades",
    )
    return _violations(short, message, lot=False)


def _largest_trades(shown: int = 3) -> pl.Expr:
    """The account's largest trades by value as text, e.g. 'buy 300.0 SEC-EQ, ... and 2 more'."""
    largest = pl.col("trade").sort_by("value", "trade", descending=[True, False], nulls_last=True)
    more = pl.len().cast(t.I64) - shown
    return pl.concat_str(
        largest.head(shown).str.join(", "),
        pl.when(more > 0).then(pl.format(" and {} more", more)).otherwise(pl.lit("")),
    )


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
    return _violations(first, message)


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
        .join(_held(ctx.inputs), on=["account_id", "security_id"], how="left")
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
    return _violations(broken, message, lot=False)


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
    return _violations(small, message, lot=False)


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
}


def find_violations(ctx: RuleContext) -> pl.DataFrame:
    """VIOLATIONS of every rule by the trades of ``ctx``, in a deterministic order."""
    found = [rule(ctx).with_columns(pl.lit(name).alias("rule")) for name, rule in RULES.items()]
    return (
        t.conform(pl.concat(found), VIOLATIONS)
        .unique(maintain_order=True)
        .sort(["account_id", "rule", "security_id", "side", "lot_id", "message"], nulls_last=True)
    )
