"""The exact inputs of one account's optimization, built from the feature frames.

An ``AccountProblem`` holds plain numbers only, so it can be stored as one Parquet row
(``problems_to_frame``) and read back unchanged (``problems_from_frame``) to re-solve
one account alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import polars as pl

from rebalance_pipeline.policy import Policy

TAXABLE = "taxable"


@dataclasses.dataclass(frozen=True, eq=False)
class AccountProblem:
    """One account: its universe of securities, its lots and the rules on each.

    Security arrays are aligned with ``security_ids`` (sorted), lot arrays with
    ``lot_ids`` (sorted); ``lot_security`` is the index of each lot's security.
    ``account_value`` is total value less the due withdrawals (the V of the weights).
    An ``untradable`` security (a data-quality finding puts its price in doubt) stays in
    the universe, frozen at its current quantity, like a halted one under
    ``freeze_security``: it is held, it carries risk and its target is still the target.
    """

    account_id: str
    household_id: str
    registration: str
    st_rate: float
    lt_rate: float
    total_value: float
    cash: float
    required_cash: float
    security_ids: list[str]
    asset_classes: list[str]
    identical_groups: list[str]
    prices: np.ndarray
    ratings: np.ndarray
    round_lots: np.ndarray
    targets: np.ndarray
    quantities: np.ndarray
    halted: np.ndarray
    untradable: np.ndarray
    restricted: np.ndarray
    buy_blocked: np.ndarray  # wash-sale windows of the household
    lot_ids: list[str]
    lot_security: np.ndarray
    lot_quantities: np.ndarray
    lot_cost_basis: np.ndarray
    lot_long_term: np.ndarray
    lot_loss_sale_blocked: np.ndarray
    band_classes: list[str]
    band_min: np.ndarray
    band_max: np.ndarray
    # annual vol of each security's asset class estimated from the price history (NaN: too
    # little history, the policy's default applies)
    class_vols: np.ndarray
    # average daily volume in shares (NaN: unknown, no market impact is modelled)
    volumes: np.ndarray
    # the kinds of the account's mandates today (features' MANDATES: cash_request, ...)
    mandates: list[str]
    # model targets without a usable close today: out of the universe (noted in the result)
    unpriced_targets: list[str]

    @property
    def account_value(self) -> float:
        return self.total_value - self.required_cash

    @property
    def is_taxable(self) -> bool:
        return self.registration == TAXABLE

    def frozen(self, halt_mode: str) -> np.ndarray:
        """Securities held at their current quantity: untradable ones, and halted ones
        under ``freeze_security`` (under ``skip_account`` routing stops the account)."""
        return self.untradable | (self.halted & (halt_mode == "freeze_security"))

    @property
    def lot_market_values(self) -> np.ndarray:
        return self.lot_quantities * self.prices[self.lot_security]

    def lot_gain_per_dollar(self) -> np.ndarray:
        """Realized gain per dollar sold of each lot (negative for a loss)."""
        value = self.lot_market_values
        safe = np.where(value > 0, value, 1.0)
        return np.where(value > 0, 1.0 - self.lot_cost_basis / safe, 0.0)

    def lot_tax_rates(self) -> np.ndarray:
        """The account's rate on each lot's gain; zero outside taxable accounts."""
        if not self.is_taxable:
            return np.zeros(len(self.lot_ids))
        return np.where(self.lot_long_term, self.lt_rate, self.st_rate)

    def quality_per_dollar(self, bps_per_rating: float) -> np.ndarray:
        """Bonus per dollar bought: ``bps_per_rating`` per rating step above 3."""
        return bps_per_rating * 1e-4 * (self.ratings - 3.0)

    def with_blocks(self, buy_groups: set[str], loss_sale_groups: set[str]) -> AccountProblem:
        """This problem with more identical groups blocked for buys / for loss sales."""
        groups = np.array(self.identical_groups, dtype=object)
        buy = self.buy_blocked | np.isin(groups, list(buy_groups))
        lot_groups = groups[self.lot_security] if len(self.lot_ids) else np.array([], object)
        at_loss = self.lot_gain_per_dollar() < 0
        blocked_sale = np.isin(lot_groups, list(loss_sale_groups)) & at_loss & self.is_taxable
        loss = self.lot_loss_sale_blocked | blocked_sale
        return dataclasses.replace(self, buy_blocked=buy, lot_loss_sale_blocked=loss)


_ARRAY_DTYPES = {
    "prices": np.float64,
    "ratings": np.float64,
    "round_lots": np.int64,
    "targets": np.float64,
    "quantities": np.float64,
    "halted": np.bool_,
    "untradable": np.bool_,
    "restricted": np.bool_,
    "buy_blocked": np.bool_,
    "lot_security": np.int64,
    "lot_quantities": np.float64,
    "lot_cost_basis": np.float64,
    "lot_long_term": np.bool_,
    "lot_loss_sale_blocked": np.bool_,
    "band_min": np.float64,
    "band_max": np.float64,
    "class_vols": np.float64,
    "volumes": np.float64,
}
_POLARS_LIST = {np.float64: pl.List(pl.Float64), np.int64: pl.List(pl.Int64)}
_POLARS_LIST[np.bool_] = pl.List(pl.Boolean)
_SCALARS = {
    "account_id": pl.String,
    "household_id": pl.String,
    "registration": pl.String,
    "st_rate": pl.Float64,
    "lt_rate": pl.Float64,
    "total_value": pl.Float64,
    "cash": pl.Float64,
    "required_cash": pl.Float64,
}
_STRING_LISTS = (
    "security_ids",
    "asset_classes",
    "identical_groups",
    "lot_ids",
    "band_classes",
    "mandates",
    "unpriced_targets",
)

PROBLEM_SCHEMA = pl.Schema(
    {
        **_SCALARS,
        **{name: pl.List(pl.String) for name in _STRING_LISTS},
        **{name: _POLARS_LIST[dtype] for name, dtype in _ARRAY_DTYPES.items()},
    }
)


def problems_to_frame(problems: list[AccountProblem]) -> pl.DataFrame:
    """One row per account, every array a list column (exact round trip)."""
    rows = []
    for p in problems:
        row = {name: getattr(p, name) for name in (*_SCALARS, *_STRING_LISTS)}
        row.update({name: getattr(p, name).tolist() for name in _ARRAY_DTYPES})
        rows.append(row)
    return pl.DataFrame(rows, schema=PROBLEM_SCHEMA)


def problems_from_frame(df: pl.DataFrame) -> list[AccountProblem]:
    problems = []
    for row in df.iter_rows(named=True):
        arrays = {name: np.array(row[name], dtype=dt_) for name, dt_ in _ARRAY_DTYPES.items()}
        strings = {name: list(row[name]) for name in _STRING_LISTS}
        scalars = {name: row[name] for name in _SCALARS}
        problems.append(AccountProblem(**scalars, **strings, **arrays))
    return problems


def build_problems(
    features: Mapping[str, pl.DataFrame],
    canonical: Mapping[str, pl.DataFrame],
    policy: Policy,
) -> list[AccountProblem]:
    """One problem per account with status 'ok', sorted by account id.

    The universe is the model's targets plus the held securities that have a close today;
    those a data-quality finding puts in doubt (untradable_securities) are frozen in it.
    Halts mark securities only; ``halt_mode`` is applied by the solver.
    """
    accounts = features["account_valuations"].filter(pl.col("status") == "ok").sort("account_id")
    priced = features["security_prices"].filter(pl.col("close") > 0)
    prices = dict(priced.select("security_id", "close").iter_rows())
    securities = {row["security_id"]: row for row in canonical["securities"].iter_rows(named=True)}
    halted = set(features["active_halts"]["security_id"].to_list())
    untradable = set(features["untradable_securities"]["security_id"].to_list())
    context = _Context(features, canonical)
    vols = estimate_class_vols(
        canonical["price_history"], canonical["prices"], canonical["securities"], policy
    )
    return [
        _account_problem(account, context, prices, securities, (halted, untradable), vols)
        for account in accounts.iter_rows(named=True)
    ]


class _Context:
    """The feature frames grouped by account / model / household, read once."""

    def __init__(
        self,
        features: Mapping[str, pl.DataFrame],
        canonical: Mapping[str, pl.DataFrame],
    ) -> None:
        self.lots = _group(features["tax_lots"].sort("lot_id"), "account_id")
        self.holdings = _group(features["holdings"], "account_id")
        self.targets = _group(canonical["model_targets"], "model_id")
        self.bands = _group(canonical["model_bands"].sort("asset_class"), "model_id")
        self.restricted = _group(features["restricted_securities"], "account_id")
        self.windows = _group(features["wash_sale_windows"], "household_id")
        mandates = features["mandates"]
        self.mandates = dict(
            mandates.group_by("account_id")
            .agg(pl.col("mandate").unique().sort())
            .select("account_id", "mandate")
            .iter_rows()
        )
        cash = mandates.filter(pl.col("mandate") == "cash_request")
        self.required_cash = dict(
            cash.group_by("account_id").agg(pl.col("amount").fill_null(0.0).sum()).iter_rows()
        )


def _group(df: pl.DataFrame, key: str) -> dict[str, pl.DataFrame]:
    return {k[0]: part for k, part in df.partition_by(key, as_dict=True).items()}


def _rows(frames: dict[str, pl.DataFrame], key: str | None) -> list[dict]:
    frame = frames.get(key) if key is not None else None
    return [] if frame is None else frame.to_dicts()


def _account_problem(
    account: dict,
    ctx: _Context,
    prices: dict[str, float],
    securities: dict[str, dict],
    blocked: tuple[set[str], set[str]],
    class_vols: dict[str, float],
) -> AccountProblem:
    account_id = account["account_id"]
    halted, untradable = blocked
    model_targets = _rows(ctx.targets, account["model_id"])
    targets = {r["security_id"]: r["target_weight"] or 0.0 for r in model_targets}
    held = {r["security_id"]: r["quantity"] for r in _rows(ctx.holdings, account_id)}
    known = {s for s in set(targets) | set(held) if s is not None and s in securities}
    universe = sorted(s for s in known if s in prices)
    index = {s: i for i, s in enumerate(universe)}
    lots = [r for r in _rows(ctx.lots, account_id) if r["security_id"] in index]
    restricted = {r["security_id"] for r in _rows(ctx.restricted, account_id)}
    windows = _rows(ctx.windows, account["household_id"])
    groups = [securities[s]["identical_group"] or s for s in universe]
    buy_groups = {w["identical_group"] for w in windows if w["blocks"] == "buy"}
    loss_windows = [w for w in windows if w["blocks"] == "loss_sale"]
    bands = _rows(ctx.bands, account["model_id"])
    taxable = account["registration"] == TAXABLE

    def loss_sale_blocked(lot: dict) -> bool:
        group = groups[index[lot["security_id"]]]
        at_loss = lot["quantity"] * prices[lot["security_id"]] < lot["cost_basis"]
        return (
            taxable
            and at_loss
            and any(
                w["identical_group"] == group and not _created_by(w, lot, account_id)
                for w in loss_windows
            )
        )

    return AccountProblem(
        account_id=account_id,
        household_id=account["household_id"],
        registration=account["registration"],
        st_rate=float(account["st_rate"] or 0.0),
        lt_rate=float(account["lt_rate"] or 0.0),
        total_value=float(account["total_value"] or 0.0),
        cash=float(account["cash"] or 0.0),
        required_cash=float(ctx.required_cash.get(account_id, 0.0)),
        security_ids=universe,
        asset_classes=[securities[s]["asset_class"] for s in universe],
        identical_groups=groups,
        prices=np.array([prices[s] for s in universe], dtype=np.float64),
        ratings=np.array([securities[s]["rating"] or 3 for s in universe], dtype=np.float64),
        round_lots=np.array([max(securities[s]["round_lot"] or 1, 1) for s in universe], np.int64),
        targets=np.array([targets.get(s, 0.0) for s in universe], dtype=np.float64),
        quantities=np.array([held.get(s, 0.0) for s in universe], dtype=np.float64),
        halted=np.array([s in halted for s in universe], dtype=np.bool_),
        untradable=np.array([s in untradable for s in universe], dtype=np.bool_),
        restricted=np.array([s in restricted for s in universe], dtype=np.bool_),
        buy_blocked=np.array([g in buy_groups for g in groups], dtype=np.bool_),
        lot_ids=[lot["lot_id"] for lot in lots],
        lot_security=np.array([index[lot["security_id"]] for lot in lots], dtype=np.int64),
        lot_quantities=np.array([lot["quantity"] for lot in lots], dtype=np.float64),
        lot_cost_basis=np.array([lot["cost_basis"] for lot in lots], dtype=np.float64),
        lot_long_term=np.array([bool(lot["is_long_term"]) for lot in lots], dtype=np.bool_),
        lot_loss_sale_blocked=np.array([loss_sale_blocked(lot) for lot in lots], np.bool_),
        band_classes=[b["asset_class"] for b in bands],
        band_min=np.array([b["min_weight"] for b in bands], dtype=np.float64),
        band_max=np.array([b["max_weight"] for b in bands], dtype=np.float64),
        class_vols=np.array(
            [class_vols.get(securities[s]["asset_class"], np.nan) for s in universe], np.float64
        ),
        volumes=np.array(
            [securities[s]["average_daily_volume"] or np.nan for s in universe], np.float64
        ),
        mandates=list(ctx.mandates.get(account_id, [])),
        unpriced_targets=sorted(s for s in targets if s not in prices),
    )


def estimate_class_vols(
    price_history: pl.DataFrame, prices: pl.DataFrame, securities: pl.DataFrame, policy: Policy
) -> dict[str, float]:
    """Annual vol per asset class from the lookback window's closes: the median over the
    class's securities of the std of their daily log returns times sqrt(252) (in the risk
    model a class vol is each of its securities' vol). Moves beyond the policy's bound are
    data faults and left out; a security with too few days gives no estimate."""
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
    by_class = (
        by_security.join(securities.select("security_id", "asset_class"), on="security_id")
        .group_by("asset_class")
        .agg(pl.col("vol").median())
        .sort("asset_class")
    )
    return dict(by_class.select("asset_class", "vol").iter_rows())


def _created_by(window: dict, lot: dict, account_id: str) -> bool:
    """The buy behind a loss-sale window created this very lot (same account, security
    and date): selling it is not a wash sale of that buy."""
    return (
        window["source_account_id"] == account_id
        and window["source_security_id"] == lot["security_id"]
        and window["window_start"] == lot["acquired_date"]
    )
