"""The optimizer minimizes exactly −score: the compiled problem's objective at its own
solution equals minus the score the terms evaluate on the same (continuous) trades."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from conftest import SECURITIES, account, at_target_lots, lot, policy_with, problems_for

from rebalance_pipeline.optimization import convex
from rebalance_pipeline.optimization.risk import account_risk
from rebalance_pipeline.optimization.score import score_usd
from rebalance_pipeline.optimization.terms import Account, Trades

VOLUMES = {"SEC-TMKT": 2e6, "SEC-LCAP": 5e5, "SEC-INTL": 1e6, "SEC-BOND": 3e6, "SEC-BND2": 1e6}


@pytest.mark.parametrize("impact", [0.0, 2.0])
@pytest.mark.parametrize("tax_aversion", ["low", "high"])
def test_the_objective_at_the_solution_is_minus_the_score(impact, tax_aversion):
    """A cash-heavy taxable account with a loss lot and a gain lot, in its bands: the band
    price is zero at the optimum, so the objective is −score / V to solver precision."""
    policy = policy_with(
        tax_aversion=tax_aversion, market_impact_coefficient=impact, quality_bonus_bps_per_rating=5
    )
    lots = [
        *at_target_lots("A")[1:],
        lot("A-TMKT-LOSS", "SEC-TMKT", 600, 600 * 250 * 1.2, "2025-11-03"),
        lot("A-TMKT-GAIN", "SEC-TMKT", 500, 500 * 250 * 0.5, "2020-03-02"),
    ]
    securities = [{**s, "average_daily_volume": VOLUMES.get(s["id"])} for s in SECURITIES]
    [problem] = problems_for(
        policy, accounts=[account("A", lots, cash=120_000.0)], securities=securities
    )
    solution = convex.solve_convex(problem, policy)
    bucket = convex.bucket_problem(convex.bucket_key(problem, policy))
    bucket.problem.solve(solver=cp.CLARABEL)  # the same numbers: the objective's values
    value = problem.account_value
    trades = Trades(bought=solution.buy_weights * value, sold_by_lot=solution.sell_weights * value)
    held = Account(problem, policy, account_risk(problem, policy))
    score, terms = score_usd(held, trades, with_impact=impact > 0)
    assert np.isclose(bucket.band_miss.value, 0.0, atol=1e-9)
    assert terms["benefit_tax_loss_usd"] > 0 or terms["cost_tax_usd"] > 0
    assert bucket.problem.value * value == pytest.approx(-score, rel=1e-6, abs=1e-3)
