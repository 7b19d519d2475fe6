"""Whether a proposal serves each of its account's mandates (MANDATE means it does).

A due cash request needs trades when the cash before them does not cover it, and is
served when the cash after them does; a restricted holding is served when the proposal
sells all of it; a band breach when the class after the trades is nearer its band than
before (fully inside or not: a band that cannot be met is met as far as possible).
A mandate that needs trades and is not served goes to a person (MANUAL).
"""

from __future__ import annotations

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.routing import reasons as r

CASH_TOLERANCE = 0.005  # dollars
QUANTITY_TOLERANCE = 1e-9  # shares
DISTANCE_TOLERANCE = 1e-9  # weight

MANDATE_SERVICE = pl.Schema(
    {
        "account_id": t.Utf8,
        "code": t.Utf8,  # the mandate's reason code (reasons.mandate_code)
        "needs_trades": pl.Boolean,
        "served": pl.Boolean,
        "detail": t.Utf8,  # what was due and what the proposal does about it
    }
)


def mandate_service(
    mandates: pl.DataFrame,
    proposed_trades: pl.DataFrame,
    results: pl.DataFrame,
    holdings: pl.DataFrame,
    drift: pl.DataFrame,
    valuations: pl.DataFrame,
) -> pl.DataFrame:
    """MANDATE_SERVICE: one row per mandate of ``mandates`` (tables.MANDATES) judged
    against the proposal (PROPOSED_TRADES and OPTIMIZATION_RESULTS), the holdings
    (HOLDINGS), the class weights (ASSET_CLASS_DRIFT) and ACCOUNT_VALUATIONS."""
    code = r.mandate_code(pl.col("mandate"), pl.col("priority")).alias("code")
    frames = [
        _cash_requests(mandates.filter(pl.col("mandate") == "cash_request"), results),
        _restrictions(
            mandates.filter(pl.col("mandate") == "restriction"), proposed_trades, holdings
        ),
        _band_breaches(
            mandates.filter(pl.col("mandate") == "band_breach"),
            proposed_trades,
            results,
            drift,
            valuations,
        ),
    ]
    judged = pl.concat([frame.with_columns(code) for frame in frames], how="diagonal_relaxed")
    return t.conform(judged, MANDATE_SERVICE).sort("account_id", "code", "detail")


def _cash_requests(due: pl.DataFrame, results: pl.DataFrame) -> pl.DataFrame:
    cash = results.select("account_id", "cash_before", "cash_after", "required_cash")
    return due.join(cash, on="account_id", how="left").select(
        "account_id",
        "mandate",
        "priority",
        (pl.col("cash_before").fill_null(0.0) < pl.col("required_cash") - CASH_TOLERANCE).alias(
            "needs_trades"
        ),
        (pl.col("cash_after") >= pl.col("required_cash") - CASH_TOLERANCE)
        .fill_null(False)
        .alias("served"),
        pl.format(
            "{}: ${} due, cash ${} before the trades, ${} after",
            _what(),
            _money("required_cash"),
            _money("cash_before"),
            _money("cash_after"),
        ).alias("detail"),
    )


def _restrictions(
    due: pl.DataFrame, proposed_trades: pl.DataFrame, holdings: pl.DataFrame
) -> pl.DataFrame:
    restricted = pl.col("account_id").is_in(due["account_id"].implode())  # few of the book
    sold = (
        proposed_trades.filter(restricted & (pl.col("side") == "sell"))
        .group_by("account_id", "security_id")
        .agg(pl.col("quantity").sum().alias("sold"))
    )
    held = holdings.filter(restricted).select(
        "account_id", "security_id", pl.col("quantity").alias("held")
    )
    joined = due.join(held, on=["account_id", "security_id"], how="left").join(
        sold, on=["account_id", "security_id"], how="left"
    )
    return joined.select(
        "account_id",
        "mandate",
        "priority",
        pl.lit(True).alias("needs_trades"),
        (pl.col("sold").fill_null(0.0) >= pl.col("held").fill_null(0.0) - QUANTITY_TOLERANCE)
        .fill_null(False)
        .alias("served"),
        pl.format(
            "{}: the proposal sells {} of {} held",
            _what(),
            pl.col("sold").fill_null(0.0),
            pl.col("held"),
        ).alias("detail"),
    )


def _band_breaches(
    due: pl.DataFrame,
    proposed_trades: pl.DataFrame,
    results: pl.DataFrame,
    drift: pl.DataFrame,
    valuations: pl.DataFrame,
) -> pl.DataFrame:
    """A class's weight after the trades is of the value after them less the due
    withdrawals (as the bands are checked after the trades)."""
    signed = pl.when(pl.col("side") == "buy").then(pl.col("amount")).otherwise(-pl.col("amount"))
    by_class = proposed_trades.group_by("account_id", "asset_class").agg(
        signed.sum().alias("class_net")
    )
    net = proposed_trades.group_by("account_id").agg(signed.sum().alias("net_bought"))
    weights = drift.select("account_id", "asset_class", "weight", "min_weight", "max_weight")
    joined = (
        due.join(weights, on=["account_id", "asset_class"], how="left")
        .join(by_class, on=["account_id", "asset_class"], how="left")
        .join(net, on="account_id", how="left")
        .join(valuations.select("account_id", "total_value"), on="account_id", how="left")
        .join(
            results.select("account_id", "cash_before", "cash_after", "required_cash"),
            on="account_id",
            how="left",
        )
    )
    value_after = (
        pl.col("total_value")
        - pl.col("cash_before")
        + pl.col("net_bought").fill_null(0.0)
        + pl.col("cash_after")
        - pl.col("required_cash")
    )
    weight_after = (
        pl.col("weight") * pl.col("total_value") + pl.col("class_net").fill_null(0.0)
    ) / value_after
    before, after = _band_distance(pl.col("weight")), _band_distance(weight_after)
    return joined.select(
        "account_id",
        "mandate",
        "priority",
        pl.lit(True).alias("needs_trades"),
        (after < before - DISTANCE_TOLERANCE).fill_null(False).alias("served"),
        pl.format(
            "{}: {}% after the trades",
            _what(),
            (100 * weight_after).round(2).cast(pl.String).fill_null("?"),
        ).alias("detail"),
    )


def _band_distance(weight: pl.Expr) -> pl.Expr:
    """How far a weight lies outside [min_weight, max_weight] (a missing end is open)."""
    below = (pl.col("min_weight") - weight).clip(lower_bound=0.0).fill_null(0.0)
    above = (weight - pl.col("max_weight")).clip(lower_bound=0.0).fill_null(0.0)
    return pl.when(weight.is_not_null()).then(below + above)


def _what() -> pl.Expr:
    """The mandate as the features described it (its kind when they did not)."""
    return pl.col("detail").fill_null(pl.col("mandate"))


def _money(column: str) -> pl.Expr:
    return pl.col(column).round(2).cast(pl.String).fill_null("?")
