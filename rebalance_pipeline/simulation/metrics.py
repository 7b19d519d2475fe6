"""The metrics of a simulation run, per policy variant and account group, from the
account-day records (``records.ACCOUNT_DAYS``) alone.

Every per-account figure is computed over the account's own days and then averaged over
the accounts of the group, so a large account does not outweigh a small one; the "all"
group averages over every account of the variant.
"""

from __future__ import annotations

import dataclasses
import math

import polars as pl

ALL_GROUPS = "all"
BUSINESS_DAYS_PER_YEAR = 252

METRICS = pl.Schema(
    {
        "variant": pl.String,
        "policy": pl.String,
        "tax_aversion": pl.String,
        "account_group": pl.String,
        "accounts": pl.UInt32,
        # std of the daily active return (account - model), annualized, mean over accounts
        "tracking_error_pct": pl.Float64,
        # std of cumulative returns across accounts of one model, mean over the models
        "return_dispersion_pct": pl.Float64,
        # one-way turnover (half of bought + sold) a year, as % of the average value
        "turnover_pct": pl.Float64,
        "trading_days_per_year": pl.Float64,  # steady state
        "share_trading_per_day_pct": pl.Float64,  # steady state
        "taxes_paid": pl.Float64,  # dollars, summed over the group
        "harvested_losses": pl.Float64,  # dollars, summed over the group
        "harvested_value": pl.Float64,  # harvested losses x the stated tax rate, dollars
        "harvested_value_pct": pl.Float64,  # the same a year, as % of the average value
        "transaction_costs": pl.Float64,  # dollars, summed over the group
        "taxes_and_costs_pct": pl.Float64,  # a year, as % of the average value
        # active return a year net of costs, less taxes paid (no liquidation at the end)
        "after_tax_active_return_pct": pl.Float64,
    }
)


@dataclasses.dataclass(frozen=True)
class MetricSettings:
    """``steady_state_days``: the first business days of a run, left out of the trading
    frequencies (every account starts out of balance); ``loss_tax_rate``: the rate at
    which a harvested dollar of loss is valued (it offsets gains taxed at that rate)."""

    steady_state_days: int = 21
    loss_tax_rate: float = 0.35


DEFAULT_SETTINGS = MetricSettings()


def simulation_metrics(
    account_days: pl.DataFrame, settings: MetricSettings = DEFAULT_SETTINGS
) -> pl.DataFrame:
    """One row per variant and account group, plus one per variant for all groups.

    Every aggregation reads its rows in one order (the records sorted, groups kept in
    the order they first appear): floating-point sums then add in the same order on
    every run, so the same records give the same bytes."""
    account_days = account_days.sort("variant", "account_id", "day")
    per_account = _per_account(account_days, settings)
    per_day = _share_trading_per_day(account_days, settings)
    grouped = pl.concat([per_account, _as_one_group(per_account)])
    shares = pl.concat([per_day, _share_trading_per_day(_as_one_group(account_days), settings)])
    keys = ["variant", "policy", "tax_aversion", "account_group"]
    metrics = (
        grouped.group_by(keys, maintain_order=True)
        .agg(
            accounts=pl.len(),
            tracking_error_pct=pl.col("tracking_error_pct").mean(),
            turnover_pct=pl.col("turnover_pct").mean(),
            trading_days_per_year=pl.col("trading_days_per_year").mean(),
            taxes_paid=pl.col("taxes_paid").sum(),
            harvested_losses=pl.col("harvested_losses").sum(),
            harvested_value=pl.col("harvested_losses").sum() * settings.loss_tax_rate,
            harvested_value_pct=pl.col("harvested_losses_pct").mean() * settings.loss_tax_rate,
            transaction_costs=pl.col("transaction_costs").sum(),
            taxes_and_costs_pct=pl.col("taxes_and_costs_pct").mean(),
            after_tax_active_return_pct=pl.col("after_tax_active_return_pct").mean(),
        )
        .join(_return_dispersion(grouped), on=["variant", "account_group"], how="left")
        .join(shares, on=["variant", "account_group"], how="left")
    )
    order = pl.col("account_group") != ALL_GROUPS  # "all" first within a variant
    return metrics.sort(["variant", order, "account_group"]).select(METRICS.names()).cast(METRICS)


def _as_one_group(account_days: pl.DataFrame) -> pl.DataFrame:
    return account_days.with_columns(account_group=pl.lit(ALL_GROUPS))


def _per_account(account_days: pl.DataFrame, settings: MetricSettings) -> pl.DataFrame:
    """Each account's figures over its days in the variant (its group: the group of its
    last day)."""
    days = pl.len()
    annualize = BUSINESS_DAYS_PER_YEAR / days
    average_value = pl.col("value").mean()
    steady = pl.col("day").rank("dense") > settings.steady_state_days
    active = pl.col("account_return") - pl.col("model_return")
    steady_days = pl.col("steady").sum()
    return (
        account_days.with_columns(steady=steady.over("variant"))
        .group_by("variant", "account_id", maintain_order=True)
        .agg(
            pl.col("policy", "tax_aversion", "account_group", "model_id").last(),
            tracking_error_pct=active.std() * math.sqrt(BUSINESS_DAYS_PER_YEAR) * 100,
            cumulative_return=(1 + pl.col("account_return")).product() - 1,
            turnover_pct=pl.col("turnover").sum() / 2 / average_value * annualize * 100,
            trading_days_per_year=pl.when(steady_days > 0).then(
                pl.col("traded").filter(pl.col("steady")).sum()
                * BUSINESS_DAYS_PER_YEAR
                / steady_days
            ),
            taxes_paid=pl.col("taxes_paid").sum(),
            harvested_losses=pl.col("harvested_losses").sum(),
            harvested_losses_pct=pl.col("harvested_losses").sum() / average_value * annualize * 100,
            transaction_costs=pl.col("transaction_costs").sum(),
            taxes_and_costs_pct=(pl.col("taxes_paid").sum() + pl.col("transaction_costs").sum())
            / average_value
            * annualize
            * 100,
            after_tax_active_return_pct=(
                active.mean() * BUSINESS_DAYS_PER_YEAR
                - pl.col("taxes_paid").sum() / average_value * annualize
            )
            * 100,
        )
    )


def _return_dispersion(per_account: pl.DataFrame) -> pl.DataFrame:
    """Std of the cumulative return across the accounts of one model in a group, mean
    over the models with at least two accounts there (null when there is none)."""
    per_model = (
        per_account.group_by("variant", "account_group", "model_id", maintain_order=True)
        .agg(dispersion=pl.col("cumulative_return").std() * 100)
        .drop_nulls("dispersion")
    )
    return per_model.group_by("variant", "account_group", maintain_order=True).agg(
        return_dispersion_pct=pl.col("dispersion").mean()
    )


def _share_trading_per_day(account_days: pl.DataFrame, settings: MetricSettings) -> pl.DataFrame:
    """Mean over the steady-state days of the share of a group's accounts that traded."""
    steady = pl.col("day").rank("dense").over("variant") > settings.steady_state_days
    return (
        account_days.filter(steady)
        .group_by("variant", "account_group", "day", maintain_order=True)
        .agg(share=pl.col("traded").mean())
        .group_by("variant", "account_group", maintain_order=True)
        .agg(share_trading_per_day_pct=pl.col("share").mean() * 100)
    )
