"""Validation rules on what the optimizer builds on: custodian positions against their
lots, and the firm's model portfolios.

Each returns draft findings scoped to the accounts it touches (see ``file_rules.py``).
"""

from __future__ import annotations

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.policy import ValidationPolicy
from rebalance_pipeline.validation import scope
from rebalance_pipeline.validation.findings import draft
from rebalance_pipeline.validation.security_rules import splits_effective_today


def reconciliation(
    book: Book, policy: ValidationPolicy, incomplete: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Per account x security, custodian position vs the sum of its lots (accounts with no
    positions are their lots). A split effective today that explains the gap
    (lots x ratio = position) is split_not_applied.

    Faults with a finding of their own are not reported again as a break: a repeated
    row counts once, a holding with a null quantity (a parse fault) is skipped, and so
    are the ``incomplete`` accounts (account_id column) whose holdings files were not
    all read."""
    # a holding is its security, or its symbol where the security is unknown
    unknown_symbol = pl.when(pl.col("security_id").is_null()).then(pl.col("symbol"))
    holding = ["account_id", "security_id", unknown_symbol.alias("unknown_symbol")]
    positions = (
        _first_per_key(book.positions, ["account_id", "security_id", "symbol"])
        .group_by(holding)
        .agg(
            pl.col("quantity").sum().alias("position"),
            pl.col("quantity").null_count().alias("position_nulls"),
            pl.col("custodian").first(),
            pl.col("source_file").first(),
            pl.col("source_row").min(),
        )
    )
    with_positions = book.lots.filter(
        pl.col("account_id").is_in(book.positions.get_column("account_id").implode())
    )
    lots = (
        _first_per_key(with_positions, ["account_id", "lot_id"])
        .group_by(holding)
        .agg(
            pl.col("quantity").sum().alias("lot_total"),
            pl.col("quantity").null_count().alias("lot_nulls"),
            pl.col("custodian").first().alias("lot_custodian"),
        )
    )
    both = positions.join(
        lots,
        on=["account_id", "security_id", "unknown_symbol"],
        how="full",
        coalesce=True,
        nulls_equal=True,
    )
    if incomplete is not None:
        both = both.join(incomplete, on="account_id", how="anti")
    both = both.filter(
        (pl.col("position_nulls").fill_null(0) + pl.col("lot_nulls").fill_null(0)) == 0
    ).with_columns(
        pl.col("position").fill_null(0.0),
        pl.col("lot_total").fill_null(0.0),
        pl.coalesce("custodian", "lot_custodian").alias("custodian"),
    )
    tol = policy.reconciliation_tolerance
    breaks = both.filter((pl.col("position") - pl.col("lot_total")).abs() > tol)
    breaks = breaks.join(splits_effective_today(book), on="security_id", how="left")
    split_gap = (pl.col("lot_total") * pl.col("ratio") - pl.col("position")).abs() <= tol
    breaks = breaks.with_columns(
        pl.when(split_gap.fill_null(False))
        .then(pl.lit("split_not_applied"))
        .otherwise(pl.lit("reconciliation_break"))
        .alias("check"),
        pl.format(
            "position {} vs lots {} in {}",
            "position",
            "lot_total",
            pl.coalesce("security_id", pl.format("symbol {}", "unknown_symbol")),
        ).alias("message"),
    )
    return draft(scope.by_account(breaks))


def _first_per_key(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """The first row of each ``key`` (nulls equal), in the frame's order."""
    return frame.filter(pl.struct(key).is_first_distinct())


MODEL_WEIGHT_TOLERANCE = 1e-6


def invalid_models(book: Book) -> pl.DataFrame:
    """An account's model that does not exist, has no targets, targets weights that do not
    sum to one, or targets a security the master does not know: optimizing to it would
    liquidate or mis-invest every account on it."""
    targets = book.model_targets.group_by("model_id").agg(
        pl.col("target_weight").sum().alias("weight"),
        pl.col("security_id")
        .filter(~pl.col("security_id").is_in(book.securities["security_id"].implode()))
        .alias("unknown"),
    )
    accounts = book.accounts.group_by("model_id").agg(pl.col("account_id").alias("account_ids"))
    models = accounts.join(targets, on="model_id", how="left")
    problem = (
        pl.when(pl.col("weight").is_null())
        .then(pl.format("model {} has no targets", pl.col("model_id")))
        .when((pl.col("weight") - 1.0).abs() > MODEL_WEIGHT_TOLERANCE)
        .then(pl.format("model {} targets sum to {}, not 1", pl.col("model_id"), pl.col("weight")))
        .when(pl.col("unknown").list.len() > 0)
        .then(
            pl.format(
                "model {} targets securities not in the master: {}",
                pl.col("model_id"),
                pl.col("unknown").list.join(", "),
            )
        )
    )
    found = models.with_columns(problem.alias("message")).filter(pl.col("message").is_not_null())
    return draft(found.with_columns(pl.lit("invalid_model").alias("check")))
