"""Outlier flags of traded accounts: firm-set limits and turnover relative to peers."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.policy import OutlierPolicy
from rebalance_pipeline.routing import reasons as r

MIN_PEERS = 5


def outlier_flags(
    accounts: pl.DataFrame, trading_routes: Sequence[str], limits: OutlierPolicy
) -> pl.DataFrame:
    """Add ``outlier_flags`` (sorted codes; empty for accounts that do not trade).

    ``accounts`` needs route, model_id, account_value, turnover_usd, realized_gain_st,
    realized_gain_lt, gain_budget_overrun_usd, tracking_error_after and
    proposed_trade_count. Flags are computed
    for every traded account whatever its review policy, so the record shows them.
    """
    traded = pl.col("route").is_in(list(trading_routes))
    value = pl.when(pl.col("account_value") > 0).then(pl.col("account_value"))
    gain = pl.col("realized_gain_st").fill_null(0.0) + pl.col("realized_gain_lt").fill_null(0.0)
    measured = accounts.with_columns(
        (100.0 * pl.col("turnover_usd") / value).alias("_turnover_pct"),
        gain.alias("_gain_usd"),
        (100.0 * gain / value).alias("_gain_pct"),
        (10_000.0 * pl.col("tracking_error_after")).alias("_te_bps"),
    ).with_columns(_peer_zscore(traded).alias("_peer_z"))
    checks = {
        r.FLAG_TURNOVER: pl.col("_turnover_pct") > limits.max_turnover_pct,
        r.FLAG_REALIZED_GAIN_USD: pl.col("_gain_usd") > limits.max_realized_gain_usd,
        r.FLAG_REALIZED_GAIN_PCT: pl.col("_gain_pct") > limits.max_realized_gain_pct,
        r.FLAG_TRACKING_ERROR: pl.col("_te_bps") > limits.max_residual_tracking_error_bps,
        r.FLAG_TRADE_COUNT: pl.col("proposed_trade_count") > limits.max_trade_count,
        r.FLAG_GAIN_BUDGET_OVERRUN: pl.col("gain_budget_overrun_usd") > 0,
        r.FLAG_PEER_TURNOVER: pl.col("_peer_z").abs() > limits.peer_zscore,
    }
    flags = pl.concat_list(
        [
            pl.when(traded & check.fill_null(False)).then(pl.lit(code)).otherwise(None)
            for code, check in sorted(checks.items())
        ]
    ).list.drop_nulls()
    return measured.with_columns(flags.cast(pl.List(t.Utf8)).alias("outlier_flags")).drop(
        "_turnover_pct", "_gain_usd", "_gain_pct", "_te_bps", "_peer_z"
    )


def _peer_zscore(traded: pl.Expr) -> pl.Expr:
    """Turnover z-score of a traded account against the other traded accounts of its model.

    Leave-one-out (the account's own turnover is not in its peers' mean and standard
    deviation), so one outlier among a few peers can stand out; null with fewer than
    ``MIN_PEERS`` peers or when the peers' turnover does not vary.
    """
    x = pl.when(traded).then(pl.col("_turnover_pct"))
    by_model = {"partition_by": "model_id"}
    n = x.count().over(**by_model)
    total = x.sum().over(**by_model)
    total_sq = (x * x).sum().over(**by_model)
    peers = n - 1
    mean = (total - x) / peers
    variance = ((total_sq - x * x) - peers * mean * mean) / (peers - 1)
    std = pl.when(variance > 1e-12).then(variance.sqrt())
    return pl.when(traded & (peers >= MIN_PEERS)).then((x - mean) / std)
