"""What the daily report counts, from a date's stored tables (and the previous business
day's, for what changed): plain frames, one function per fact, each tested apart.

Review decisions recorded after the run are in the date's stored ``review_outcomes``, so
a report built again after a review counts the decisions: approved and modified trades as
released (at the quantity released), rejected ones apart, and only the undecided trades
as awaiting review.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.tables import ROUTES
from rebalance_pipeline.validation.status import findings_by_cause_and_file

FIRST_ACCOUNTS = 5  # accounts named per group; the count says how many there are


@dataclasses.dataclass(frozen=True)
class ReportTables:
    """The stored tables of one date the report reads (fields named as the tables)."""

    data_quality_issues: pl.DataFrame
    account_status: pl.DataFrame
    manual_queue: pl.DataFrame
    routing_decisions: pl.DataFrame
    released_trades: pl.DataFrame  # auto-released by the run
    review_queue: pl.DataFrame
    review_outcomes: pl.DataFrame  # settled review decisions (REVIEW_OUTCOMES)
    optimization_results: pl.DataFrame
    active_holds: pl.DataFrame
    active_halts: pl.DataFrame
    asset_class_drift: pl.DataFrame
    account_valuations: pl.DataFrame
    transition_progress: pl.DataFrame
    gain_budgets: pl.DataFrame

    @classmethod
    def stored(cls, day: dt.date, home: Path) -> ReportTables:
        """From the warehouse partitions of ``day``; FileNotFoundError (naming the table
        and how to materialize it) when the date has not been run."""
        return cls(
            **{
                field.name: storage.read_partition(field.name, day, home)
                for field in dataclasses.fields(cls)
            }
        )


def suspension_groups(findings: pl.DataFrame) -> pl.DataFrame:
    """The errors (what suspends accounts) by cause and file: check, source_file,
    accounts, first_accounts (the first FIRST_ACCOUNTS of them)."""
    groups = findings_by_cause_and_file(findings).filter(pl.col("severity") == "error")
    return groups.select(
        "check",
        "source_file",
        "accounts",
        pl.col("account_ids").list.head(FIRST_ACCOUNTS).alias("first_accounts"),
    )


def manual_accounts(decisions: pl.DataFrame, manual_queue: pl.DataFrame) -> pl.DataFrame:
    """Accounts routed MANUAL with their reasons, and for those with bad data and a due
    cash request the amount to raise, when it was due and the cash on hand."""
    manual = decisions.filter(pl.col("route") == "MANUAL").select("account_id", "reasons")
    amounts = manual_queue.select("account_id", "requested_amount", "due_date", "cash_available")
    return manual.join(amounts, on="account_id", how="left").sort("account_id")


def drift_before_after(
    drift: pl.DataFrame, valuations: pl.DataFrame, trades: pl.DataFrame
) -> pl.DataFrame:
    """Mean absolute drift from target (in percentage points) per asset class over the
    accounts with ``trades``, before and after them: asset_class, accounts, before, after.

    After = the class's weight plus the trades' net buying in it over the account's total
    value (an estimate: costs and price moves left out)."""
    net = trades.group_by("account_id", "asset_class").agg(
        pl.when(pl.col("side") == "buy")
        .then(pl.col("amount"))
        .otherwise(-pl.col("amount"))
        .sum()
        .alias("net_buy")
    )
    traded = trades.select("account_id").unique()
    rows = (
        drift.join(traded, on="account_id", how="semi")
        .join(valuations.select("account_id", "total_value"), on="account_id", how="left")
        .join(net, on=["account_id", "asset_class"], how="left")
        .with_columns(
            after=pl.col("drift") + pl.col("net_buy").fill_null(0.0) / pl.col("total_value")
        )
    )
    return (
        rows.group_by("asset_class")
        .agg(
            pl.col("account_id").n_unique().alias("accounts"),
            (pl.col("drift").abs().mean() * 100).alias("before"),
            (pl.col("after").abs().mean() * 100).alias("after"),
        )
        .sort("asset_class")
    )


def scored_accounts(decisions: pl.DataFrame) -> pl.DataFrame:
    """Accounts with a score and a threshold: account_id, account_group, score_bps,
    threshold_bps, above (the score beats the threshold)."""
    return (
        decisions.filter(pl.col("score_bps").is_not_null() & pl.col("threshold_bps").is_not_null())
        .select("account_id", "account_group", "score_bps", "threshold_bps")
        .with_columns(above=pl.col("score_bps") > pl.col("threshold_bps"))
        .sort("account_group", "account_id")
    )


def score_by_group(scored: pl.DataFrame) -> pl.DataFrame:
    """Per account group: accounts scored, how many beat their threshold, median score and
    median threshold (bps)."""
    return (
        scored.group_by("account_group")
        .agg(
            pl.len().alias("accounts"),
            pl.col("above").sum().cast(pl.Int64).alias("above"),
            pl.col("score_bps").median().alias("median_score"),
            pl.col("threshold_bps").median().alias("median_threshold"),
        )
        .sort("account_group")
    )


def trades_per_custodian(released: pl.DataFrame, valuations: pl.DataFrame) -> pl.DataFrame:
    """custodian, side, trades, amount of the released trades (the account's custodian)."""
    return (
        released.join(valuations.select("account_id", "custodian"), on="account_id", how="left")
        .group_by("custodian", "side")
        .agg(pl.len().alias("trades"), pl.col("amount").sum().alias("amount"))
        .sort("custodian", "side")
    )


def outlier_groups(decisions: pl.DataFrame) -> pl.DataFrame:
    """flag, accounts, first_accounts of the accounts routing flagged as outliers."""
    flagged = (
        decisions.select("account_id", "outlier_flags")
        .explode("outlier_flags")
        .drop_nulls("outlier_flags")
        .rename({"outlier_flags": "flag"})
    )
    return accounts_per(flagged, "flag")


def rebalance_types(valuations: pl.DataFrame) -> pl.DataFrame:
    """rebalance_type, accounts, first_accounts of the accounts that do not rebalance
    normally (ACCOUNT_VALUATIONS carries the account master's type)."""
    return accounts_per(valuations.filter(pl.col("rebalance_type") != "normal"), "rebalance_type")


def accounts_per(rows: pl.DataFrame, key: str) -> pl.DataFrame:
    """key, accounts, first_accounts: each value of ``key`` with how many distinct
    accounts its rows name and the first of them, sorted by ``key``."""
    return (
        rows.group_by(key)
        .agg(pl.col("account_id").unique().sort())
        .select(
            key,
            pl.col("account_id").list.len().alias("accounts"),
            pl.col("account_id").list.head(FIRST_ACCOUNTS).alias("first_accounts"),
        )
        .sort(key)
    )


def gain_budget_use(budgets: pl.DataFrame, results: pl.DataFrame) -> pl.DataFrame:
    """GAIN_BUDGETS of the accounts with a budget and today's overrun
    (``gain_budget_overrun_usd``, 0 without one): those over it today first, then those
    with the least left."""
    overruns = results.select("account_id", "gain_budget_overrun_usd")
    return (
        budgets.filter(pl.col("gain_budget_usd").is_not_null())
        .join(overruns, on="account_id", how="left")
        .with_columns(pl.col("gain_budget_overrun_usd").fill_null(0.0))
        .sort(
            ["gain_budget_overrun_usd", "remaining_gain_budget_usd", "account_id"],
            descending=[True, False, False],
        )
    )


@dataclasses.dataclass(frozen=True)
class Changes:
    """What changed since the previous business day."""

    routes: pl.DataFrame  # route, previous, today, change (accounts)
    moved: pl.DataFrame  # account_id, previous_route, route: accounts whose route changed
    newly_suspended: int
    no_longer_suspended: int


def changes_since(previous: pl.DataFrame, today: pl.DataFrame) -> Changes:
    """``previous`` and ``today``: ROUTING_DECISIONS of the two dates."""
    counts = (
        previous.group_by("route")
        .len("previous")
        .join(today.group_by("route").len("today"), on="route", how="full", coalesce=True)
        .with_columns(pl.col("previous", "today").fill_null(0).cast(pl.Int64))
        .with_columns(change=pl.col("today") - pl.col("previous"))
    )
    order = pl.DataFrame({"route": _route_order(counts["route"])})
    moved = (
        previous.select("account_id", pl.col("route").alias("previous_route"))
        .join(today.select("account_id", "route"), on="account_id", how="inner")
        .filter(pl.col("previous_route") != pl.col("route"))
        .sort("account_id")
    )
    suspended = "SUSPENDED"
    return Changes(
        routes=order.join(counts, on="route", how="left", maintain_order="left"),
        moved=moved,
        newly_suspended=moved.filter(pl.col("route") == suspended).height,
        no_longer_suspended=moved.filter(pl.col("previous_route") == suspended).height,
    )


def _route_order(routes: pl.Series) -> list[str]:
    present = set(routes.to_list())
    return [route for route in ROUTES if route in present] + sorted(present - set(ROUTES))
