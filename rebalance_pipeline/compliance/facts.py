"""What the compliance rules read: their inputs, each trade with the facts about it, and
the shape of a violation (``VIOLATIONS``). See ``rules.py`` for why the facts are
re-derived here from the canonical tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.policy import OptimizationPolicy

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

    @functools.cached_property
    def held_positions(self) -> pl.DataFrame:
        """account_id, security_id, held: the traded accounts' positions before the trades
        (several rules read them; the other accounts' positions are never looked up)."""
        traded = self.trades.select("account_id").unique()
        return (
            self.inputs.account_positions.join(traded, on="account_id", how="semi")
            .group_by("account_id", "security_id")
            .agg(pl.col("quantity").sum().alias("held"))
        )


def trade_facts(
    trades: pl.DataFrame, decisions: pl.DataFrame, inputs: ComplianceInputs
) -> pl.DataFrame:
    """``trades`` (PROPOSED_TRADES columns) with the account's household, registration,
    rebalance type, route and status, the security's group, sector, round lot and close,
    the named lot and a text naming the trade; ``value`` = quantity x the date's close."""
    accounts = inputs.accounts.select(
        "account_id",
        "household_id",
        "registration",
        pl.col("rebalance_type").fill_null("normal"),
        pl.lit(True).alias("known_account"),
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
    lots = (
        _named_lots(inputs.lots, trades)
        .select(
            "account_id",
            "lot_id",
            pl.col("security_id").alias("lot_security_id"),
            pl.col("quantity").alias("lot_quantity"),
            pl.col("cost_basis").alias("lot_cost_basis"),
            pl.col("acquired_date").alias("lot_acquired_date"),
            pl.lit(True).alias("lot_found"),
        )
        .unique(["account_id", "lot_id"], keep="first")
    )
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


def _named_lots(lots: pl.DataFrame, trades: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``lots`` that ``trades`` name, in their order (by lot id first: the
    lots of the whole book are many more than the trades name)."""
    named = trades.select("account_id", "lot_id").drop_nulls().unique()
    return lots.filter(pl.col("lot_id").is_in(named["lot_id"].implode())).join(
        named, on=["account_id", "lot_id"], how="semi", maintain_order="left"
    )


def _trade_text() -> pl.Expr:
    """e.g. 'sell 10.0 SEC-BOND lot A03-L1' or 'buy 5.0 SEC-LCAP'."""
    lot = pl.when(pl.col("lot_id").is_not_null()).then(pl.format(" lot {}", "lot_id"))
    return pl.format(
        "{} {} {}{}",
        *(pl.col(name).cast(t.Utf8).fill_null("?") for name in ("side", "quantity", "security_id")),
        lot.otherwise(pl.lit("")),
    )


def violations(rows: pl.DataFrame, message: pl.Expr, lot: bool = True) -> pl.DataFrame:
    """Rows as violations (rule added by the caller); ``lot=False`` for orders."""
    return rows.select(
        pl.col("account_id").cast(t.Utf8),
        pl.col("security_id").cast(t.Utf8),
        pl.col("side").cast(t.Utf8),
        (pl.col("lot_id") if lot else pl.lit(None)).cast(t.Utf8).alias("lot_id"),
        message.cast(t.Utf8).alias("message"),
    )


def each_case(rows: pl.DataFrame, cases: list[tuple[pl.Expr, pl.Expr]]) -> pl.DataFrame:
    """One violation per row and matching case (condition, message)."""
    return pl.concat(
        [violations(rows.filter(when.fill_null(False)), message) for when, message in cases]
    )


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
