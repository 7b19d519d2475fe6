"""A book over several dates (the scenario key ``dates``): each later date starts from the
holdings the previous date's released trades leave, filled at the later date's prices.

The fills are the simulation's (``simulation.engine.fill_orders``): sells consume the lot
they name and realize their gain after costs, buys open a lot dated the fill day, and
each fill is a custodian transaction of the later date, so the gain budget, the wash-sale
windows and a transition's progress see it as they would a custodian's report.
Trades queued for review are not carried: no person approves them between dates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.generator.accounts import LOT_COLUMNS, BookState
from rebalance_pipeline.scenario.adapter import scenario_policy
from rebalance_pipeline.scenario.model import LaterDate, Lot, Scenario, Transaction
from rebalance_pipeline.simulation.engine import Ledger, fill_orders


def over_dates(
    scenario: Scenario,
    first: dict[str, dict[str, Any]],
    accounts_on: Callable[[Scenario], dict[str, dict[str, Any]]],
) -> Iterator[tuple[Scenario, dict[str, dict[str, Any]]]]:
    """Each later date's scenario with its result accounts (``accounts_on`` runs or reads
    them), each date advanced by the previous date's (``first``: the first date's)."""
    current, accounts = scenario, first
    for later in scenario.dates:
        current = advance(current, accounts, later)
        accounts = accounts_on(current)
        yield current, accounts


def advance(scenario: Scenario, accounts: dict[str, dict[str, Any]], later: LaterDate) -> Scenario:
    """``scenario`` on ``later``: its released trades (the result's ``accounts``) filled at
    the later date's prices, which replace the listed closes; ``expect`` is the date's."""
    closes = {s.id: later.prices.get(s.id, s.price) for s in scenario.securities}
    ledger = _ledger(scenario)
    fill_orders(ledger, _released(accounts), later.as_of, closes, scenario_policy(scenario))
    traded = {tx["account_id"] for tx in ledger.transactions}
    return scenario.model_copy(
        update={
            "as_of": later.as_of,
            "securities": [
                s.model_copy(update={"price": closes[s.id]}) for s in scenario.securities
            ],
            "accounts": [
                _account_after(account, ledger, traded, later) for account in scenario.accounts
            ],
            "positions": [],  # the sums of the lots after the fills
            "transactions": [*scenario.transactions, *map(_transaction, ledger.transactions)],
            "expect": later.expect,
            "dates": [],
        }
    )


def _ledger(scenario: Scenario) -> Ledger:
    accounts = pl.DataFrame({"account_id": [a.id for a in scenario.accounts]})
    lots = pl.DataFrame(
        [
            (a.id, lot.id, lot.security, lot.quantity, lot.cost_basis, lot.acquired)
            for a in scenario.accounts
            for lot in a.lots
        ],
        schema={
            "account_id": pl.String,
            "lot_id": pl.String,
            "security_id": pl.String,
            "quantity": pl.Float64,
            "cost_basis": pl.Float64,
            "acquired_date": pl.Date,
        },
        orient="row",
    ).select(LOT_COLUMNS)
    cash = np.array([a.cash for a in scenario.accounts], dtype=np.float64)
    next_lot = {a.id: _last_lot_number(a.id, a.lots) for a in scenario.accounts}
    return Ledger(
        state=BookState(accounts, lots, cash, next_lot),
        transactions=[],
        open_requests=pl.DataFrame(),
        last_fill_day={},
        previous_value={},
        orders=t.empty(t.PROPOSED_TRADES),
    )


def _last_lot_number(account_id: str, lots: list[Lot]) -> int:
    """The highest n of the account's lots named like the fills' new lots
    (``<account>-L<n>``), so a new lot never takes a listed lot's id."""
    pattern = re.compile(rf"{re.escape(account_id)}-L(\d+)")
    numbers = [int(m.group(1)) for lot in lots if (m := pattern.fullmatch(lot.id))]
    return max(numbers, default=0)


def _released(accounts: dict[str, dict[str, Any]]) -> pl.DataFrame:
    rows = [
        {
            "account_id": account_id,
            "security_id": trade["security"],
            "side": trade["side"],
            "quantity": float(trade["quantity"]),
            "lot_id": trade["lot_id"],
        }
        for account_id, account in sorted(accounts.items())
        if account["review"] == "auto"
        for trade in account["trades"]
    ]
    schema = {c: t.PROPOSED_TRADES[c] for c in ("account_id", "security_id", "side", "lot_id")}
    return pl.DataFrame(rows, schema={**schema, "quantity": pl.Float64})


def _account_after(account, ledger: Ledger, traded: set[str], later: LaterDate):
    lots = ledger.state.lots.filter(pl.col("account_id") == account.id)
    return account.model_copy(
        update={
            "cash": ledger.cash_of(account.id),
            "last_trade": later.as_of if account.id in traded else account.last_trade,
            "lots": [
                Lot(
                    id=row["lot_id"],
                    security=row["security_id"],
                    quantity=row["quantity"],
                    cost_basis=row["cost_basis"],
                    acquired=row["acquired_date"],
                )
                for row in lots.iter_rows(named=True)
            ],
        }
    )


def _transaction(row: dict[str, Any]) -> Transaction:
    return Transaction(
        account=row["account_id"],
        date=row["trade_date"],
        security=row["security_id"],
        side=row["type"],
        quantity=row["quantity"],
        price=row["price"],
        realized_gain=row["realized_gain"],
        cost_basis=row["cost_basis"],
    )
