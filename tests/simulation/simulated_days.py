"""Hand-built account-day records (``records.ACCOUNT_DAYS``) with known answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from rebalance_pipeline.simulation.records import ACCOUNT_DAYS

FIRST_DAY = dt.date(2026, 1, 2)


def account_days(
    days: int,
    *,
    variant: str = "calendar-monthly/tax-medium",
    account_id: str = "A1",
    account_group: str = "small",
    model_id: str = "M1",
    value: float = 100_000.0,
    account_return: Sequence[float] | float = 0.0,
    model_return: Sequence[float] | float = 0.0,
    traded_days: Sequence[int] = (),
    turnover: float = 0.0,
    transaction_costs: float = 0.0,
    taxes_paid: float = 0.0,
    harvested_losses: float = 0.0,
) -> pl.DataFrame:
    """One account's ``days`` consecutive days; the money columns are per trading day
    (``traded_days``: 0-based day numbers), zero on the other days."""
    policy, tax_aversion = variant.split("/tax-")
    traded = [day in set(traded_days) for day in range(days)]

    def on_trading_days(amount: float) -> list[float]:
        return [amount if trade else 0.0 for trade in traded]

    def each_day(returns: Sequence[float] | float) -> list[float]:
        return list(returns) if isinstance(returns, Sequence) else [returns] * days

    return pl.DataFrame(
        {
            "variant": variant,
            "policy": policy,
            "tax_aversion": tax_aversion,
            "day": [FIRST_DAY + dt.timedelta(days=day) for day in range(days)],
            "account_id": account_id,
            "household_id": f"H-{account_id}",
            "account_group": account_group,
            "model_id": model_id,
            "taxable": True,
            "value": value,
            "cash_flow": 0.0,
            "account_return": each_day(account_return),
            "model_return": each_day(model_return),
            "tracking_error": 0.0,
            "traded": traded,
            "turnover": on_trading_days(turnover),
            "transaction_costs": on_trading_days(transaction_costs),
            "realized_gains": 0.0,
            "harvested_losses": on_trading_days(harvested_losses),
            "taxes_paid": on_trading_days(taxes_paid),
            "days_since_last_trade": None,
            "suspended": False,
        },
        schema=ACCOUNT_DAYS,
    )
