"""The starting point every policy variant shares: accounts, lots and cash from the
generator, the firm's restrictions, holds and halts, the closes and the cash flows."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

from rebalance_pipeline.calendar import previous_business_days, sessions_from
from rebalance_pipeline.generator.accounts import build_accounts, initial_lots
from rebalance_pipeline.generator.firm_files import firm_files
from rebalance_pipeline.generator.market import security_master
from rebalance_pipeline.generator.writers import WRITERS
from rebalance_pipeline.simulation.config import CashFlowConfig, SimulationConfig
from rebalance_pipeline.simulation.market import simulated_closes

# days before the start of each account's last trade: at most a year, so that calendar
# policies start staggered rather than all due on the first day
LAST_TRADE_MAX_DAYS_AGO = 365


@dataclasses.dataclass(frozen=True)
class World:
    sessions: list[dt.date]  # warm-up sessions (prices only), then the simulated days
    days: list[dt.date]  # the simulated business days
    securities: pl.DataFrame  # tables.SECURITIES
    closes: np.ndarray  # sessions x securities
    accounts: pl.DataFrame  # the generator's account master with last_firm_trade_date
    lots: pl.DataFrame  # generator.accounts.LOT_COLUMNS
    cash: np.ndarray  # by position in ``accounts``
    restrictions: pl.DataFrame
    holds: pl.DataFrame
    halts: pl.DataFrame
    deposits: pl.DataFrame  # day, account_id, amount
    withdrawals: pl.DataFrame  # request_id, account_id, amount, priority, created, due_date

    def closes_on(self, day: dt.date) -> pl.DataFrame:
        row = self.closes[self.sessions.index(day)]
        return pl.DataFrame({"security_id": self.securities["security_id"], "close": row})


def build_world(config: SimulationConfig) -> World:
    """The same config always gives the same world."""
    rng = np.random.default_rng(config.seed)
    days = sessions_from(config.start_date, config.days)
    sessions = previous_business_days(days[0], config.warmup_days) + days
    securities = security_master().drop("effective_from")
    closes = simulated_closes(rng, securities, len(sessions), config.warmup_days, config.market)
    accounts = build_accounts(rng, config.accounts, config.households, days[0], tuple(WRITERS))
    first = pl.DataFrame(
        {"security_id": securities["security_id"], "close": closes[len(sessions) - len(days)]}
    )
    lots, cash = initial_lots(rng, accounts, first, days[0], config.max_lots_per_holding)
    last_trade = rng.integers(1, LAST_TRADE_MAX_DAYS_AGO + 1, accounts.height)
    accounts = accounts.with_columns(
        last_firm_trade_date=pl.lit(days[0]) - pl.duration(days=pl.Series(last_trade))
    )
    firm = firm_files(rng, accounts, securities, days)
    deposits, withdrawals = _cash_flows(rng, accounts, days, config.cash_flows)
    return World(
        sessions, days, securities, closes, accounts, lots, cash,
        firm["restrictions"], firm["holds"], firm["halts"], deposits, withdrawals,
    )  # fmt: skip


def _cash_flows(
    rng: np.random.Generator, accounts: pl.DataFrame, days: list[dt.date], flows: CashFlowConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Deposits settled on their day, and withdrawal requests due ``notice_days`` later."""
    shape = (len(days), accounts.height)
    deposit_at = np.argwhere(rng.random(shape) < flows.deposit_rate)
    request_at = np.argwhere(rng.random(shape) < flows.withdrawal_rate)
    high = rng.random(len(request_at)) < flows.high_priority_share
    value = accounts["value"].to_numpy()
    ids = accounts["account_id"].to_list()
    deposits = pl.DataFrame(
        {
            "day": [days[d] for d, _ in deposit_at],
            "account_id": [ids[a] for _, a in deposit_at],
            "amount": [round(value[a] * flows.deposit_share, 2) for _, a in deposit_at],
        },
        schema={"day": pl.Date, "account_id": pl.String, "amount": pl.Float64},
    )
    due = [days[min(d + flows.notice_days, len(days) - 1)] for d, _ in request_at]
    withdrawals = pl.DataFrame(
        {
            "request_id": [f"SIM-CR{n + 1:05d}" for n in range(len(request_at))],
            "account_id": [ids[a] for _, a in request_at],
            "amount": [round(value[a] * flows.withdrawal_share, -2) for _, a in request_at],
            "priority": np.where(high, "high", "normal").tolist(),
            "created": [days[d] for d, _ in request_at],
            "due_date": due,
        },
        schema={
            "request_id": pl.String,
            "account_id": pl.String,
            "amount": pl.Float64,
            "priority": pl.String,
            "created": pl.Date,
            "due_date": pl.Date,
        },
    )
    return deposits, withdrawals
