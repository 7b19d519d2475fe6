"""The problem table: one row per ok account holding every input of its optimization,
built from the feature frames with Polars joins and aggregations (no Python loop over
accounts or lots), in ``problem.PROBLEM_SCHEMA``.

Per account the universe is the model's targets plus the held securities that are in the
security master and have a close today, sorted by id; the security arrays are aligned
with it and the lot arrays with the account's lots sorted by id. Securities that a
data-quality finding puts in doubt (``untradable_securities``) stay in the universe and
are frozen by the solver; halts only mark securities (``halt_mode`` is the solver's).
A value the feeds left empty is 0 where it is an amount (a rate, cash, a target weight)
and NaN where it is a measurement (a volume, a volatility, a lot's quantity).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import polars as pl

from rebalance_pipeline.optimization.problem import (
    PROBLEM_SCHEMA,
    TAXABLE,
    AccountProblem,
    problems_from_frame,
)
from rebalance_pipeline.policy import Policy

NEUTRAL_RATING = 3.0  # a security without a rating: no quality bonus either way
NAN = float("nan")
ACCOUNT = ["account_id", "security_id"]
UNIVERSE_FOR_LOTS = ("household_id", "index", "close", "identical_group")


def build_problems(
    features: Mapping[str, pl.DataFrame],
    canonical: Mapping[str, pl.DataFrame],
    policy: Policy,
) -> list[AccountProblem]:
    """The problems of every ok account, sorted by account id."""
    return problems_from_frame(build_problem_table(features, canonical, policy))


def build_problem_table(
    features: Mapping[str, pl.DataFrame],
    canonical: Mapping[str, pl.DataFrame],
    policy: Policy,
) -> pl.DataFrame:
    """One row per account with status 'ok', sorted by account id."""
    accounts = _ok_accounts(features["account_valuations"], policy)
    targets = _last_per_key(canonical["model_targets"], ["model_id", "security_id"])
    priced = _last_per_key(
        features["security_prices"].filter(pl.col("close") > 0), ["security_id"]
    ).select("security_id", "close")
    universe = _universe(accounts, targets, priced, features, canonical, policy)
    table = (
        accounts.join(_security_lists(universe), on="account_id", how="left")
        .join(_lot_lists(_lots(accounts, universe, features)), on="account_id", how="left")
        .join(_band_lists(canonical["model_bands"]), on="model_id", how="left")
        .join(_mandate_lists(features["mandates"]), on="account_id", how="left")
        .join(_days_since_trade(features["days_since_trade"]), on="account_id", how="left")
        .join(_gain_budgets(features["gain_budgets"]), on="account_id", how="left")
        .join(_transitions(features["transition_progress"]), on="account_id", how="left")
        .join(_unpriced_targets(targets, priced), on="model_id", how="left")
    )
    return table.select(_as_schema(name, dtype) for name, dtype in PROBLEM_SCHEMA.items()).sort(
        "account_id"
    )


def _ok_accounts(valuations: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    amounts = ("st_rate", "lt_rate", "total_value", "cash")
    deferral_days = {g.name: g.long_term_deferral_days or 0 for g in policy.account_groups}
    return valuations.filter(pl.col("status") == "ok").select(
        "account_id",
        "household_id",
        "model_id",
        "registration",
        "rebalance_type",
        *(pl.col(name).cast(pl.Float64).fill_null(0.0) for name in amounts),
        pl.col("account_group")
        .replace_strict(deferral_days, default=0, return_dtype=pl.Int64)
        .alias("long_term_deferral_days"),
    )


def _last_per_key(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """The frame with one row per key, the last delivered (a later row corrects)."""
    return frame.filter(pl.struct(key).is_last_distinct())


def _of_accounts(frame: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``frame`` of the ``accounts``, in their order."""
    return frame.filter(pl.col("account_id").is_in(accounts.get_column("account_id").implode()))


def _universe(
    accounts: pl.DataFrame,
    targets: pl.DataFrame,
    priced: pl.DataFrame,
    features: Mapping[str, pl.DataFrame],
    canonical: Mapping[str, pl.DataFrame],
    policy: Policy,
) -> pl.DataFrame:
    """One row per (account, security of its universe), sorted, with every per-security
    input and the security's ``index`` in the account's arrays."""
    targeted = accounts.select("account_id", "model_id").join(
        targets.select("model_id", "security_id", pl.col("target_weight").alias("target")),
        on="model_id",
    )
    held = _last_per_key(_of_accounts(features["holdings"], accounts), ACCOUNT)
    securities = _last_per_key(canonical["securities"], ["security_id"])
    vols = estimate_class_vols(
        canonical["price_history"], canonical["prices"], canonical["securities"], policy
    )
    pairs = (
        pl.concat([targeted.select(ACCOUNT), held.select(ACCOUNT)])
        .drop_nulls("security_id")
        .unique()
        .join(accounts.select("account_id", "household_id"), on="account_id")
        .join(securities, on="security_id")
        .join(priced, on="security_id")
        .join(targeted.select(*ACCOUNT, "target"), on=ACCOUNT, how="left")
        .join(held.select(*ACCOUNT, "quantity", _flag("is_held")), on=ACCOUNT, how="left")
        .join(vols, on="asset_class", how="left")
    )
    return (
        _with_blocks(pairs, features)
        .sort(ACCOUNT)
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over("account_id").alias("index"))
    )


def _with_blocks(pairs: pl.DataFrame, features: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Per-security values and the rules on each: halted, in doubt, restricted for the
    account, blocked for buys by a wash-sale window of the household."""
    group = pl.col("identical_group")
    buy_windows = features["wash_sale_windows"].filter(pl.col("blocks") == "buy")
    values = pairs.with_columns(
        pl.when(group.is_null() | (group == ""))
        .then(pl.col("security_id"))
        .otherwise(group)
        .alias("identical_group"),
        pl.col("target").fill_null(0.0),
        pl.when(pl.col("is_held"))
        .then(pl.col("quantity").cast(pl.Float64).fill_null(NAN))
        .otherwise(0.0)
        .alias("quantity"),
        _or_default("rating", NEUTRAL_RATING).cast(pl.Float64),
        _or_default("round_lot", 1).clip(lower_bound=1).cast(pl.Int64),
        _or_default("average_daily_volume", NAN).cast(pl.Float64).alias("volume"),
        pl.col("vol").fill_null(NAN).alias("class_vol"),
        pl.col("security_id")
        .is_in(features["active_halts"]["security_id"].implode())
        .alias("halted"),
        pl.col("security_id")
        .is_in(features["untradable_securities"]["security_id"].implode())
        .alias("untradable"),
    )
    restricted = _flag_members(values, features["restricted_securities"], ACCOUNT, "restricted")
    return _flag_members(
        restricted, buy_windows, ["household_id", "identical_group"], "buy_blocked"
    )


def _flag(name: str) -> pl.Expr:
    return pl.lit(True).alias(name)


def _flag_members(
    frame: pl.DataFrame, members: pl.DataFrame, key: list[str], flag: str
) -> pl.DataFrame:
    """``frame`` with a ``flag`` column: true where its ``key`` is one of ``members``'."""
    marked = members.select(key).unique().with_columns(_flag(flag))
    return frame.join(marked, on=key, how="left").with_columns(pl.col(flag).fill_null(False))


def _or_default(name: str, default: float) -> pl.Expr:
    """The value, or ``default`` where it is missing or zero (a zero rating, round lot or
    volume means none was delivered)."""
    value = pl.col(name)
    return pl.when(value.is_null() | (value == 0)).then(default).otherwise(value).alias(name)


def _security_lists(universe: pl.DataFrame) -> pl.DataFrame:
    return universe.group_by("account_id", maintain_order=True).agg(
        pl.col("security_id").alias("security_ids"),
        pl.col("asset_class").alias("asset_classes"),
        pl.col("identical_group").alias("identical_groups"),
        pl.col("close").alias("prices"),
        pl.col("rating").alias("ratings"),
        pl.col("round_lot").alias("round_lots"),
        pl.col("target").alias("targets"),
        pl.col("quantity").alias("quantities"),
        pl.col("halted"),
        pl.col("untradable"),
        pl.col("restricted"),
        pl.col("buy_blocked"),
        pl.col("class_vol").alias("class_vols"),
        pl.col("volume").alias("volumes"),
    )


def _lots(
    accounts: pl.DataFrame, universe: pl.DataFrame, features: Mapping[str, pl.DataFrame]
) -> pl.DataFrame:
    """The lots of securities in their account's universe, each with its index there and
    whether a wash-sale window blocks selling it at a loss."""
    lots = (
        _of_accounts(features["tax_lots"], accounts)
        .join(accounts.select("account_id", "registration"), on="account_id")
        .join(universe.select(*ACCOUNT, *UNIVERSE_FOR_LOTS), on=ACCOUNT)
        .sort("account_id", "lot_id", maintain_order=True)
        .with_row_index("row")
    )
    at_loss = (pl.col("registration") == TAXABLE) & (
        pl.col("quantity") * pl.col("close") < pl.col("cost_basis")
    )
    blocked = (
        lots.filter(at_loss)
        .join(
            features["wash_sale_windows"].filter(pl.col("blocks") == "loss_sale"),
            on=["household_id", "identical_group"],
        )
        .filter(~_window_created_by_lot())
    )
    return _flag_members(lots, blocked, ["row"], "loss_sale_blocked")


def _window_created_by_lot() -> pl.Expr:
    """The buy behind a loss-sale window created this very lot (same account, security
    and date): selling it is not a wash sale of that buy."""
    return (
        pl.col("source_account_id").eq_missing(pl.col("account_id"))
        & pl.col("source_security_id").eq_missing(pl.col("security_id"))
        & pl.col("window_start").eq_missing(pl.col("acquired_date"))
    )


def _lot_lists(lots: pl.DataFrame) -> pl.DataFrame:
    return lots.group_by("account_id", maintain_order=True).agg(
        pl.col("lot_id").alias("lot_ids"),
        pl.col("index").alias("lot_security"),
        pl.col("quantity").cast(pl.Float64).fill_null(NAN).alias("lot_quantities"),
        pl.col("cost_basis").cast(pl.Float64).fill_null(NAN).alias("lot_cost_basis"),
        pl.col("is_long_term").fill_null(False).alias("lot_long_term"),
        pl.col("days_to_long_term").fill_null(0).alias("lot_days_to_long_term"),
        pl.col("loss_sale_blocked").alias("lot_loss_sale_blocked"),
    )


def _band_lists(bands: pl.DataFrame) -> pl.DataFrame:
    return (
        bands.sort("model_id", "asset_class", maintain_order=True)
        .group_by("model_id", maintain_order=True)
        .agg(
            pl.col("asset_class").alias("band_classes"),
            pl.col("min_weight").cast(pl.Float64).fill_null(NAN).alias("band_min"),
            pl.col("max_weight").cast(pl.Float64).fill_null(NAN).alias("band_max"),
        )
    )


def _mandate_lists(mandates: pl.DataFrame) -> pl.DataFrame:
    """Each account's mandate kinds and the cash its due cash requests need."""
    cash_request = pl.col("mandate") == "cash_request"
    return mandates.group_by("account_id").agg(
        pl.col("mandate").unique().sort().alias("mandates"),
        pl.col("amount").fill_null(0.0).filter(cash_request).sum().alias("required_cash"),
    )


def _days_since_trade(days: pl.DataFrame) -> pl.DataFrame:
    return days.select("account_id", "days_since_last_trade").unique("account_id", keep="first")


def _gain_budgets(budgets: pl.DataFrame) -> pl.DataFrame:
    return budgets.select(
        "account_id",
        "gain_budget_usd",
        "realized_gain_ytd",
        pl.col("year_complete").alias("gain_year_complete"),
        "remaining_gain_budget_usd",
    ).unique("account_id", keep="first")


def _transitions(progress: pl.DataFrame) -> pl.DataFrame:
    return progress.select("account_id", in_transition=pl.lit(True)).unique("account_id")


def _unpriced_targets(targets: pl.DataFrame, priced: pl.DataFrame) -> pl.DataFrame:
    return (
        targets.drop_nulls("security_id")
        .join(priced, on="security_id", how="anti")
        .group_by("model_id")
        .agg(pl.col("security_id").sort().alias("unpriced_targets"))
    )


def _as_schema(name: str, dtype: pl.DataType) -> pl.Expr:
    """The column in its stored type; an account without lots, bands, mandates... gets
    empty lists and no required cash."""
    column = pl.col(name).cast(dtype)
    if isinstance(dtype, pl.List):
        return pl.when(column.is_null()).then(pl.lit([], dtype=dtype)).otherwise(column).alias(name)
    if name in ("required_cash", "realized_gain_ytd"):
        return column.fill_null(0.0)
    if name == "in_transition":
        return column.fill_null(False)
    return column.fill_null(True) if name == "gain_year_complete" else column


def estimate_class_vols(
    price_history: pl.DataFrame, prices: pl.DataFrame, securities: pl.DataFrame, policy: Policy
) -> pl.DataFrame:
    """Annual vol per asset class (``asset_class``, ``vol``) from the lookback window's
    closes: the median over the class's securities of the std of their daily log returns
    times sqrt(252) (in the risk model a class vol is each of its securities' vol). Moves
    beyond the policy's bound are data faults and left out; a security with too few days
    gives no estimate."""
    risk = policy.optimization.risk_model
    closes = (
        pl.concat([price_history, prices])
        .filter(pl.col("security_id").is_not_null() & (pl.col("close") > 0))
        .sort("security_id", "price_date", "custodian")
        .unique(["security_id", "price_date"], keep="first", maintain_order=True)
    )
    returns = closes.with_columns(
        pl.col("close").log().diff().over("security_id").alias("log_return")
    ).filter(pl.col("log_return").abs() <= math.log1p(risk.history_max_daily_move))
    by_security = (
        returns.group_by("security_id")
        .agg(pl.len().alias("days"), (pl.col("log_return").std() * math.sqrt(252)).alias("vol"))
        .filter((pl.col("days") >= risk.history_min_days) & (pl.col("vol") > 0))
    )
    return (
        by_security.join(securities.select("security_id", "asset_class"), on="security_id")
        .group_by("asset_class")
        .agg(pl.col("vol").median())
        .sort("asset_class")
    )
