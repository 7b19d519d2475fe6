"""Simulated closes: the generator's securities and class dynamics, with funds of one
asset class moving together and the configured drawdowns."""

from __future__ import annotations

import numpy as np
import polars as pl

from rebalance_pipeline.generator.market import CLASS_DYNAMICS, first_closes, to_cents
from rebalance_pipeline.simulation.config import MarketConfig

TRADING_DAYS_PER_YEAR = 252


def class_correlations(classes: list[str], config: MarketConfig) -> np.ndarray:
    """Correlation of the class factors: equity classes with each other, the rest."""
    equity = [name.endswith("_equity") for name in classes]
    size = len(classes)
    matrix = np.full((size, size), config.other_correlation)
    for i in range(size):
        for j in range(size):
            if i == j:
                matrix[i, j] = 1.0
            elif equity[i] and equity[j]:
                matrix[i, j] = config.equity_correlation
    return matrix


def simulated_closes(
    rng: np.random.Generator,
    securities: pl.DataFrame,
    sessions: int,
    first_simulated: int,
    config: MarketConfig,
) -> np.ndarray:
    """Closes (sessions x securities, in ``securities`` order), in cents.

    A security's daily shock is ``sqrt(rho) * class factor + sqrt(1 - rho) * own noise``,
    so its volatility is its class's and two funds of a class correlate at ``rho``.
    A drawdown adds an even daily fall to its classes, counted from ``first_simulated``.
    """
    classes = sorted(CLASS_DYNAMICS)
    column_class = [classes.index(c) for c in securities["asset_class"]]
    chol = np.linalg.cholesky(class_correlations(classes, config))
    factors = (rng.standard_normal((sessions, len(classes))) @ chol.T)[:, column_class]
    own = rng.standard_normal((sessions, securities.height))
    rho = config.within_class_correlation
    shocks = np.clip(np.sqrt(rho) * factors + np.sqrt(1 - rho) * own, -4, 4)
    drift = np.array([CLASS_DYNAMICS[c][0] for c in securities["asset_class"]])
    vol = np.array([CLASS_DYNAMICS[c][1] for c in securities["asset_class"]])
    daily_drift, daily_vol = drift / TRADING_DAYS_PER_YEAR, vol / np.sqrt(TRADING_DAYS_PER_YEAR)
    log_returns = daily_drift - daily_vol**2 / 2 + daily_vol * shocks
    for drawdown in config.drawdowns:
        start = first_simulated + drawdown.start_day
        hit = securities["asset_class"].is_in(drawdown.asset_classes).to_numpy()
        log_returns[start : start + drawdown.days, hit] += (
            np.log(1 - drawdown.depth) / drawdown.days
        )
    log_returns[0] = 0.0
    return to_cents(first_closes() * np.exp(np.cumsum(log_returns, axis=0)))
