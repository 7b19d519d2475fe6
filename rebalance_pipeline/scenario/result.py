"""The result JSON of a scenario, read off the outputs of the daily stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from rebalance_pipeline.scenario.adapter import scenario_book, scenario_policy
from rebalance_pipeline.scenario.dates import over_dates
from rebalance_pipeline.scenario.model import Scenario, load_scenario
from rebalance_pipeline.workflow import DateOutputs, run_stages

TRADE_KEYS = ["security_id", "side", "quantity", "lot_id"]


def _number(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _trades_by_account(outputs: DateOutputs) -> dict[str, list[dict[str, Any]]]:
    """Trades the workflow exports now or queues for review, per account."""
    routed = pl.concat(
        [
            outputs.routing.released_trades.select(["account_id", *TRADE_KEYS]),
            outputs.routing.review_queue.select(["account_id", *TRADE_KEYS]),
        ]
    ).sort(["account_id", "side", "security_id", "lot_id"], nulls_last=True)
    trades: dict[str, list[dict[str, Any]]] = {}
    for row in routed.iter_rows(named=True):
        trades.setdefault(row["account_id"], []).append(
            {
                "security": row["security_id"],
                "side": row["side"],
                "quantity": row["quantity"],
                "lot_id": row["lot_id"],
            }
        )
    return trades


def scenario_result(name: str, outputs: DateOutputs) -> dict[str, Any]:
    cash = dict(outputs.features["account_valuations"].select("account_id", "cash").iter_rows())
    cash_after = dict(outputs.optimization_results.select("account_id", "cash_after").iter_rows())
    trades = _trades_by_account(outputs)
    transitions = _transitions(outputs)
    accounts = {}
    for row in outputs.routing.decisions.iter_rows(named=True):
        account = row["account_id"]
        traded = account in trades
        accounts[account] = {
            "route": row["route"],
            "reasons": row["reasons"],
            "rule": row["rule"],
            "account_group": row["account_group"],
            "review_policy": row["review_policy"],
            "review": row["review"],
            "outlier_flags": row["outlier_flags"],
            "score_bps": _number(row["score_bps"]),
            "threshold_bps": _number(row["threshold_bps"]),
            "cash_before": _number(cash.get(account), 2),
            "cash_after": _number(cash_after.get(account) if traded else cash.get(account), 2),
            "trades": trades.get(account, []),
        }
        if account in transitions:
            accounts[account]["transition"] = transitions[account]
    return {"scenario": name, "accounts": accounts}


def _transitions(outputs: DateOutputs) -> dict[str, dict[str, Any]]:
    """The date's progress of each account in transition, before the date's trades."""
    progress = outputs.features["transition_progress"]
    return {
        row["account_id"]: {
            "model_share": _number(row["model_share"], 6),
            "non_model_value": _number(row["non_model_value"], 2),
            "realized_gain_since_start": _number(row["realized_gain_since_start"], 2),
            "remaining_gain_budget_usd": _number(row["remaining_gain_budget_usd"], 2),
        }
        for row in progress.iter_rows(named=True)
    }


def run_scenario(path: Path) -> dict[str, Any]:
    """Run a scenario file through the daily stages; raises ScenarioError on bad input.
    A book with later ``dates`` adds each one's accounts under ``dates``."""
    scenario = load_scenario(path)
    result = _run(scenario)
    if scenario.dates:
        result["dates"] = [
            {"as_of": day.as_of.isoformat(), "accounts": accounts}
            for day, accounts in over_dates(
                scenario, result["accounts"], lambda s: _run(s)["accounts"]
            )
        ]
    return result


def _run(scenario: Scenario) -> dict[str, Any]:
    outputs = run_stages(scenario_book(scenario), scenario_policy(scenario))
    return scenario_result(scenario.name, outputs)
