"""A new objective term is one class and one line in ``SCORE_TERMS``: the optimizer then
minimizes it and the score counts it, consistently. The dummy term here is a linear cost
on buying one security."""

from __future__ import annotations

from typing import ClassVar

import cvxpy as cp
import numpy as np
import pytest
from conftest import account, at_target_lots, lot, policy_with, problems_for

from rebalance_pipeline.optimization import convex, terms
from rebalance_pipeline.optimization.risk import account_risk
from rebalance_pipeline.optimization.score import score_usd
from rebalance_pipeline.optimization.terms import Account, Layout, Term, Trades, Variables

RATE = 0.02  # dollars of cost per dollar bought of the penalized security


class BuyPenalty(Term):
    """RATE per dollar bought of ``security``."""

    column = "cost_dummy_usd"
    is_benefit = False
    security: ClassVar[str] = ""

    def build(self, variables: Variables, layout: Layout):
        rate = self.parameter("dummy_rate", (layout.n,))
        return rate @ variables.buy, []

    def values(self, account: Account, layout: Layout):
        return {"dummy_rate": layout.securities(self._per_dollar(account))}

    def dollars(self, account: Account, trades: Trades) -> float:
        return float(self._per_dollar(account) @ trades.bought)

    def _per_dollar(self, account: Account) -> np.ndarray:
        return RATE * (np.array(account.problem.security_ids) == self.security)


def solve(problem, policy) -> tuple[Trades, float]:
    """The solution's trades in dollars and the compiled objective at it, in dollars."""
    solution = convex.solve_convex(problem, policy)
    bucket = convex.bucket_problem(convex.bucket_key(problem, policy))
    bucket.problem.solve(solver=cp.CLARABEL)  # the same numbers: the objective's value
    value = problem.account_value
    trades = Trades(bought=solution.buy_weights * value, sold_by_lot=solution.sell_weights * value)
    return trades, bucket.problem.value * value


@pytest.fixture
def fresh_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiled problems of this test only (a compiled problem holds its terms)."""
    monkeypatch.setattr(convex, "_BUCKETS", {})


def test_a_dummy_term_changes_the_solution_and_the_score_consistently(
    monkeypatch: pytest.MonkeyPatch, fresh_buckets: None
) -> None:
    policy = policy_with(quality_bonus_bps_per_rating=5)
    lots = [
        *at_target_lots("A")[1:],
        lot("A-TMKT-LOSS", "SEC-TMKT", 600, 600 * 250 * 1.2, "2025-11-03"),
    ]
    [problem] = problems_for(policy, accounts=[account("A", lots, cash=120_000.0)])
    held = Account(problem, policy, account_risk(problem, policy))
    plain, _ = solve(problem, policy)
    most_bought = int(np.argmax(plain.bought))
    monkeypatch.setattr(BuyPenalty, "security", problem.security_ids[most_bought])

    monkeypatch.setattr(terms, "SCORE_TERMS", (*terms.SCORE_TERMS, BuyPenalty))
    monkeypatch.setattr(convex, "_BUCKETS", {})
    penalized, objective = solve(problem, policy)
    score, dollars = score_usd(held, penalized, with_impact=False)
    plain_score, _ = score_usd(held, plain, with_impact=False)

    assert penalized.bought[most_bought] < plain.bought[most_bought] - 1.0
    assert dollars["cost_dummy_usd"] == pytest.approx(BuyPenalty().dollars(held, penalized))
    assert objective == pytest.approx(-score, rel=1e-6, abs=1e-3)
    # each solution is the better one under its own objective
    assert score >= plain_score - 1e-3
    monkeypatch.undo()
    without_term, _ = score_usd(held, penalized, with_impact=False)
    assert without_term - score == pytest.approx(dollars["cost_dummy_usd"])
    assert score_usd(held, plain, with_impact=False)[0] >= without_term - 1e-3
