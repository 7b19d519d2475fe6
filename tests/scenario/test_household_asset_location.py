"""Household asset location (optimization/household.py) on its known-answer book: with the
option on the household's bonds move to the IRA while the combined allocation stays on
the model, and a cash request is met in its own account; with it off each account is
rebalanced alone; re-solving one account alone reproduces its stored householded result."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from rebalance_pipeline.features import SQL_DIR, discover_models, run_models
from rebalance_pipeline.optimization.household import householded
from rebalance_pipeline.optimization.problem_table import build_problems
from rebalance_pipeline.optimization.shards import optimize_shard, solve_one
from rebalance_pipeline.scenario import expectation_mismatches, load_scenario, run_scenario
from rebalance_pipeline.scenario.adapter import scenario_book, scenario_policy
from rebalance_pipeline.validation import validate_book
from rebalance_pipeline.workflow import feature_inputs

BOOK = Path(__file__).parent / "household_asset_location.yaml"


@pytest.fixture(scope="module")
def result() -> dict:
    return run_scenario(BOOK)


def _book_without_the_option(tmp_path: Path) -> Path:
    data = yaml.safe_load(BOOK.read_text())
    data["policy"] = {}
    path = tmp_path / "household_off.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _dollars_after(result: dict, accounts: list[str]) -> dict[str, float]:
    """The accounts' combined dollars per security after their trades."""
    scenario = load_scenario(BOOK)
    price = {s.id: s.price for s in scenario.securities}
    held: dict[str, float] = defaultdict(float)
    for account in scenario.accounts:
        if account.id in accounts:
            for lot in account.lots:
                held[lot.security] += lot.quantity * price[lot.security]
    for account in accounts:
        for trade in result["accounts"][account]["trades"]:
            sign = 1 if trade["side"] == "buy" else -1
            held[trade["security"]] += sign * trade["quantity"] * price[trade["security"]]
    return held


def test_the_book_meets_its_expectations(result: dict):
    assert expectation_mismatches(load_scenario(BOOK), result) == []


@pytest.mark.parametrize("accounts", [["AT", "AI"], ["CT", "CI"]])
def test_the_households_combined_allocation_stays_on_the_model(result: dict, accounts):
    held = _dollars_after(result, accounts)
    assert all(result["accounts"][a]["trades"] for a in accounts)
    equity_share = held["SEC-EQTY"] / (held["SEC-EQTY"] + held["SEC-BOND"])
    assert equity_share == pytest.approx(0.6, abs=0.01)


def test_the_bonds_end_in_the_ira(result: dict):
    held_in_taxable = _dollars_after(result, ["AT"])
    held_in_ira = _dollars_after(result, ["AI"])
    assert held_in_taxable["SEC-BOND"] == 0
    assert held_in_ira["SEC-BOND"] == pytest.approx(400_000, rel=0.02)  # 40% of $1M


def test_without_the_option_each_account_is_rebalanced_alone(tmp_path: Path):
    """Each account of HA is on the model alone: nothing moves; CI still raises its cash
    (and CT, whose idle cash cannot pay it, stays out of it)."""
    accounts = run_scenario(_book_without_the_option(tmp_path))["accounts"]
    assert accounts["AT"]["trades"] == [] and accounts["AI"]["trades"] == []
    assert accounts["CI"]["cash_after"] >= 20_000


def _problems_and_policy():
    scenario = load_scenario(BOOK)
    book, policy = scenario_book(scenario), scenario_policy(scenario)
    validation = validate_book(book, policy)
    models = discover_models(SQL_DIR)
    features = run_models(feature_inputs(book, validation), book.as_of, policy, models)
    return build_problems(features, book.tables(), policy), policy


def test_one_account_re_solved_alone_reproduces_its_householded_result():
    problems, policy = _problems_and_policy()
    results, trades = optimize_shard(problems, policy)
    household = [p for p in problems if p.household_id == "HA"]
    for problem in household:
        result, own_trades = solve_one(problem, policy, household)
        stored = results.filter(account_id=problem.account_id)
        assert result.drop("solve_seconds").equals(stored.drop("solve_seconds"))
        assert own_trades.equals(trades.filter(account_id=problem.account_id))


def test_only_accounts_of_one_model_and_plain_rules_are_householded():
    problems, policy = _problems_and_policy()
    household = [p for p in problems if p.household_id == "HA"]
    assert householded(household, policy)
    assert not householded(household[:1], policy)
    off = policy.model_copy(
        update={
            "optimization": policy.optimization.model_copy(
                update={"household_asset_location": False}
            )
        }
    )
    assert not householded(household, off)
    other_model = dataclasses.replace(household[1], targets=household[1].targets[::-1].copy())
    assert not householded([household[0], other_model], policy)
    buy_only = dataclasses.replace(household[1], rebalance_type="buy_only")
    assert not householded([household[0], buy_only], policy)
    # the household problem has no transition term: a transition account is solved alone
    in_transition = dataclasses.replace(household[1], in_transition=True)
    assert not householded([household[0], in_transition], policy)


def test_one_compiled_problem_serves_every_household_of_a_shape():
    """HA and HC have the same shape: one DPP problem is compiled and solved twice."""
    from rebalance_pipeline.optimization import household as module

    problems, policy = _problems_and_policy()
    module._HOUSEHOLDS.clear()
    optimize_shard(problems, policy)
    (compiled,) = module._HOUSEHOLDS.values()
    assert compiled.problem.is_dcp(dpp=True)
    assert compiled.solves == 2
