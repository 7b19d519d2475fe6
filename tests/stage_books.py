"""Small books in the acceptance scenarios' format, run through the real daily stages.

``book(...)`` builds a scenario (the securities and model of the acceptance books unless
given), ``run(...)`` runs it through validation, the SQL features, the optimizer and
routing exactly as the daily run does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from rebalance_pipeline.scenario.adapter import scenario_book, scenario_policy
from rebalance_pipeline.scenario.model import Scenario
from rebalance_pipeline.workflow import DateOutputs, run_stages

AS_OF = dt.date(2026, 3, 16)


def security(id_, asset_class, price, group, sector="Broad Market", rating=4, round_lot=1):
    return dict(
        id=id_,
        asset_class=asset_class,
        price=price,
        identical_group=group,
        sector=sector,
        rating=rating,
        round_lot=round_lot,
    )


SECURITIES = [
    security("SEC-BND2", "us_bonds", 100.0, "TOTAL_BOND", "Fixed Income"),
    security("SEC-BOND", "us_bonds", 80.0, "AGG_BOND", "Fixed Income"),
    security("SEC-INTL", "intl_equity", 50.0, "INTL"),
    security("SEC-LCAP", "us_equity", 120.0, "LARGE_US"),
    security("SEC-TMK2", "us_equity", 50.0, "TOTAL_US"),
    security("SEC-TMKT", "us_equity", 250.0, "TOTAL_US"),
]
BALANCED = {
    "targets": {
        "SEC-TMKT": 0.35,
        "SEC-LCAP": 0.15,
        "SEC-INTL": 0.1,
        "SEC-BOND": 0.25,
        "SEC-BND2": 0.15,
    },
    "bands": {"us_equity": (0.45, 0.55), "intl_equity": (0.05, 0.15), "us_bonds": (0.35, 0.45)},
}


def lot(id_, security_id, quantity, cost_basis, acquired="2021-06-01"):
    return dict(
        id=id_,
        security=security_id,
        quantity=quantity,
        cost_basis=cost_basis,
        acquired=dt.date.fromisoformat(acquired),
    )


def account(
    id_,
    lots,
    cash=8000.0,
    household=None,
    registration="taxable",
    model="M-BAL",
    last_trade=None,
):
    return dict(
        id=id_,
        household=household or f"H-{id_}",
        registration=registration,
        model=model,
        st_rate=0.37,
        lt_rate=0.2,
        cash=cash,
        last_trade=last_trade,
        lots=lots,
    )


def at_target_lots(prefix, scale=1.0):
    """The acceptance book p01's account: at its model, long-term gains only."""
    return [
        lot(f"{prefix}-L-TMKT", "SEC-TMKT", 1120 * scale, 224000.0 * scale),
        lot(f"{prefix}-L-LCAP", "SEC-LCAP", 1000 * scale, 96000.0 * scale),
        lot(f"{prefix}-L-INTL", "SEC-INTL", 1600 * scale, 64000.0 * scale),
        lot(f"{prefix}-L-BOND", "SEC-BOND", 2500 * scale, 160000.0 * scale),
        lot(f"{prefix}-L-BND2", "SEC-BND2", 1200 * scale, 96000.0 * scale),
    ]


def book(
    accounts: list[dict],
    securities: list[dict] = SECURITIES,
    models: dict | None = None,
    **rest: Any,
) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "stage_book",
            "as_of": AS_OF,
            "securities": [{"symbol": s["id"].removeprefix("SEC-"), **s} for s in securities],
            "models": models or {"M-BAL": BALANCED},
            "accounts": accounts,
            **rest,
        }
    )


def run(scenario: Scenario) -> DateOutputs:
    return run_stages(scenario_book(scenario), scenario_policy(scenario))


def decision(outputs: DateOutputs, account_id: str) -> dict:
    return outputs.routing.decisions.filter(pl.col("account_id") == account_id).row(0, named=True)


def result(outputs: DateOutputs, account_id: str) -> dict:
    results = outputs.optimization_results
    return results.filter(pl.col("account_id") == account_id).row(0, named=True)


def trades_of(outputs: DateOutputs, account_id: str) -> pl.DataFrame:
    return outputs.proposed_trades.filter(pl.col("account_id") == account_id)
