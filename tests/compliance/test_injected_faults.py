"""Acceptance: an optimizer that breaks each rule once, through every stage of the date.

The book has one account per rule (households of their own, except the wash-sale pair)
and two clean accounts the real optimizer trades. Routing already stops a held account
and a proposal that trades a halted security, so for those two rules routing leaks too
(its decision is turned to SCORE): compliance must stand on its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from faults import faulty_optimizer, trade_row

from rebalance_pipeline.optimization import shards
from rebalance_pipeline.routing import route
from rebalance_pipeline.scenario.adapter import scenario_book, scenario_policy
from rebalance_pipeline.scenario.model import Scenario
from rebalance_pipeline.workflow import DateOutputs, run_stages

AS_OF = dt.date(2026, 3, 16)
PRICES = {"SEC-EQ": 100.0, "SEC-EQ2": 100.0, "SEC-BND": 50.0, "SEC-HALT": 40.0}
PRICES |= {"SEC-TOBA": 30.0, "SEC-RL": 20.0}
# the account, its injected trades, and the rules they break
FAULTS: dict[str, tuple[list[dict[str, Any]], set[str]]] = {
    "F-HOLD": ([trade_row("F-HOLD", "SEC-EQ", "buy", 20, 100.0)], {"account_not_tradable"}),
    "F-HALT": ([trade_row("F-HALT", "SEC-HALT", "buy", 30, 40.0)], {"halted_security"}),
    "F-RESTR": ([trade_row("F-RESTR", "SEC-TOBA", "buy", 50, 30.0)], {"restricted_buy"}),
    "F-LOT": (
        [trade_row("F-LOT", "SEC-EQ", "sell", 20, 100.0, "F-CASH-EQ")],  # another's lot
        {"sell_lot"},
    ),
    "F-SHORT": (
        [trade_row("F-SHORT", "SEC-EQ", "sell", 150, 100.0, "F-SHORT-EQ")],  # holds 100
        {"sell_lot", "short_position"},
    ),
    "F-CASH": ([trade_row("F-CASH", "SEC-EQ", "buy", 300, 100.0)], {"negative_cash"}),
    "F-WASH": ([trade_row("F-WASH", "SEC-EQ", "buy", 20, 100.0)], {"wash_sale"}),
    "F-ROUND": ([trade_row("F-ROUND", "SEC-RL", "buy", 150, 20.0)], {"round_lot"}),
    "F-MIN": ([trade_row("F-MIN", "SEC-EQ", "buy", 5, 100.0)], {"min_trade_size"}),
}
LEAKED_BY_ROUTING = ("F-HOLD", "F-HALT")


def security(sid: str, asset_class: str, **more: Any) -> dict[str, Any]:
    return {"id": sid, "symbol": sid[4:], "asset_class": asset_class, "price": PRICES[sid]} | more


def account(aid: str, household: str, registration: str = "taxable", **more: Any) -> dict:
    """$35,000: 100 EQ (bought at 80), 100 BND (at 50) and $20,000 cash."""
    lots = [
        {"id": f"{aid}-EQ", "security": "SEC-EQ", "quantity": 100, "cost_basis": 8000.0},
        {"id": f"{aid}-BND", "security": "SEC-BND", "quantity": 100, "cost_basis": 5000.0},
    ]
    return {
        "id": aid,
        "household": household,
        "registration": registration,
        "model": "M",
        "st_rate": 0.3,
        "lt_rate": 0.15,
        "cash": 20000.0,
        "lots": [lot | {"acquired": "2024-01-02"} for lot in lots],
    } | more


SCENARIO = {
    "name": "compliance_faults",
    "as_of": AS_OF.isoformat(),
    "policy": {"round_lots": True},
    "securities": [
        security("SEC-EQ", "us_equity", sector="Broad", identical_group="EQ"),
        security("SEC-EQ2", "us_equity", sector="Broad", identical_group="EQ"),
        security("SEC-BND", "us_bonds", sector="Bonds"),
        security("SEC-HALT", "us_equity", sector="Broad"),
        security("SEC-TOBA", "us_equity", sector="Tobacco"),
        security("SEC-RL", "intl_equity", sector="Broad", round_lot=100),
    ],
    "models": {
        "M": {
            "targets": {"SEC-EQ": 0.45, "SEC-BND": 0.4, "SEC-RL": 0.15},
            "bands": {"us_equity": [0.25, 0.55], "us_bonds": [0.1, 0.5], "intl_equity": [0, 0.3]},
        }
    },
    "accounts": [
        *(account(aid, f"H-{aid}") for aid in FAULTS if aid not in ("F-LOT", "F-WASH")),
        account("F-LOT", "H-F-LOT", "traditional_ira"),
        account("F-WASH", "H-WASH", "traditional_ira"),
        account(
            "F-WASH-T",
            "H-WASH",
            lots=[
                {
                    "id": "F-WASH-T-BND",
                    "security": "SEC-BND",
                    "quantity": 400,
                    "cost_basis": 16000.0,
                    "acquired": "2024-01-02",
                }
            ],
            cash=1000.0,
        ),
        account(
            "K-CASH",
            "H-K",
            lots=[
                {
                    "id": "K-CASH-EQ",
                    "security": "SEC-EQ",
                    "quantity": 300,
                    "cost_basis": 24000.0,
                    "acquired": "2020-01-02",
                },
                {
                    "id": "K-CASH-BND",
                    "security": "SEC-BND",
                    "quantity": 400,
                    "cost_basis": 20000.0,
                    "acquired": "2020-01-02",
                },
            ],
            cash=1000.0,
        ),
    ],
    "cash_requests": [
        {"account": "K-CASH", "amount": 5000, "priority": "high", "due": "2026-03-16"}
    ],
    "restrictions": [{"household": "H-F-RESTR", "sector": "Tobacco"}],
    "holds": [
        {"account": "F-HOLD", "start": "2026-03-13", "end": "2026-03-20", "reason": "transfer"}
    ],
    "halts": [
        {"security": "SEC-HALT", "start": "2026-03-13", "end": "2026-03-31", "reason": "news"}
    ],
    "transactions": [
        # F-WASH-T sold the identical SEC-EQ2 at a loss ten days ago
        {
            "account": "F-WASH-T",
            "date": "2026-03-06",
            "security": "SEC-EQ2",
            "side": "sell",
            "quantity": 50,
            "price": 90.0,
            "realized_gain": -500.0,
        }
    ],
}


def leaky_routing(inputs: route.RoutingInputs, policy) -> route.RoutingOutput:
    """Routing with a defect: the held and the halted account are sent to trade."""
    routed = route.route_accounts(inputs, policy)
    leaked = pl.col("account_id").is_in(LEAKED_BY_ROUTING)
    decisions = routed.decisions.with_columns(
        pl.when(leaked).then(pl.lit("SCORE")).otherwise("route").alias("route"),
        pl.when(leaked).then(pl.lit("auto")).otherwise("review").alias("review"),
    )
    released, queue = route.split_trades(inputs.proposed_trades, decisions)
    return route.RoutingOutput(decisions, released, queue)


@pytest.fixture(scope="module")
def outputs() -> DateOutputs:
    scenario = Scenario.model_validate(SCENARIO)
    policy = scenario_policy(scenario)
    policy = policy.model_copy(
        update={"optimization": policy.optimization.model_copy(update={"min_trade_usd": 1000.0})}
    )
    injected = [row for rows, _ in FAULTS.values() for row in rows]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            shards, "optimize_shard", faulty_optimizer(shards.optimize_shard, lambda *_: injected)
        )
        patch.setattr("rebalance_pipeline.workflow.route_accounts", leaky_routing)
        return run_stages(scenario_book(scenario), policy)


def trades_of(routing: route.RoutingOutput, accounts) -> pl.DataFrame:
    both = pl.concat(
        [routing.released_trades, routing.review_queue.select(routing.released_trades.columns)]
    )
    return both.filter(pl.col("account_id").is_in(list(accounts)))


def test_the_faulty_proposal_reaches_compliance(outputs: DateOutputs) -> None:
    proposed = dict(outputs.proposal.decisions.select("account_id", "route").iter_rows())
    assert {proposed[aid] for aid in FAULTS} <= set(route.TRADING_ROUTES)
    assert set(trades_of(outputs.proposal, FAULTS)["account_id"]) == set(FAULTS)


def test_each_rule_broken_once_withholds_exactly_its_account(outputs: DateOutputs) -> None:
    found = outputs.compliance_violations.group_by("account_id").agg(pl.col("rule").unique())
    assert {aid: set(rules) for aid, rules in found.iter_rows()} == {
        aid: rules for aid, (_, rules) in FAULTS.items()
    }
    final = outputs.routing.decisions.filter(pl.col("account_id").is_in(list(FAULTS)))
    for row in final.iter_rows(named=True):
        trades, rules = FAULTS[row["account_id"]]
        assert row["route"] == "MANUAL", row
        assert row["reasons"] == sorted(f"compliance:{rule}" for rule in rules)
        assert all(rule in row["rule"] for rule in rules)
        assert trades[0]["security_id"] in row["rule"]
    assert trades_of(outputs.routing, FAULTS).is_empty()


def test_the_other_accounts_are_untouched(outputs: DateOutputs) -> None:
    others = ~pl.col("account_id").is_in(list(FAULTS))
    assert outputs.routing.decisions.filter(others).equals(
        outputs.proposal.decisions.filter(others)
    )
    for table in ("released_trades", "review_queue"):
        final = getattr(outputs.routing, table).filter(others)
        assert final.equals(getattr(outputs.proposal, table).filter(others)), table
    routes = dict(outputs.routing.decisions.select("account_id", "route").iter_rows())
    assert routes["K-CASH"] == "MANDATE"
    assert not trades_of(outputs.routing, ["K-CASH"]).is_empty()
