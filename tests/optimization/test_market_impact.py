"""Market impact grows with the order against the security's traded volume (Boyd et al.
2017, cvxportfolio): a large account pays more per dollar than a small one."""

from __future__ import annotations

import math

import pytest
from conftest import SECURITIES, account, at_target_lots, policy_with, problems_for

from rebalance_pipeline.optimization.shards import optimize_shard

VOLUMES = {
    "SEC-TMKT": 2_000_000,
    "SEC-LCAP": 500_000,
    "SEC-INTL": 1_000_000,
    "SEC-BOND": 3_000_000,
    "SEC-BND2": 1_000_000,
    "SEC-TMK2": 4_000_000,
}
TRADED = [{**s, "average_daily_volume": VOLUMES[s["id"]]} for s in SECURITIES]


def _impact_per_dollar(scale: float, policy) -> float:
    accounts = [account("A", at_target_lots("A", scale), cash=300_000.0 * scale)]
    results, _ = optimize_shard(problems_for(policy, accounts=accounts, securities=TRADED), policy)
    result = results.row(0, named=True)
    return result["cost_market_impact_usd"] / result["turnover_usd"]


def test_a_hundred_times_larger_account_pays_more_impact_per_dollar():
    policy = policy_with(market_impact_coefficient=1.0)
    small, large = _impact_per_dollar(1.0, policy), _impact_per_dollar(100.0, policy)
    assert small > 0
    # per dollar the impact grows like sqrt(order / volume): about 10x for 100x the order
    assert large > 5 * small


def test_the_impact_of_one_order_is_known():
    """A cash account buys LCAP only: 1.0 × daily vol × amount^1.5 / sqrt(volume × price).
    LCAP's vol in the default model: sqrt(0.16² + 0.02²) a year."""
    model = {"targets": {"SEC-LCAP": 1.0}, "bands": {}}
    policy = policy_with(market_impact_coefficient=1.0)
    accounts = [account("A", [], cash=1_000_000.0)]
    results, trades = optimize_shard(
        problems_for(policy, accounts=accounts, securities=TRADED, models={"M-BAL": model}),
        policy,
    )
    [amount] = trades["amount"].to_list()
    daily_vol = math.sqrt(0.16**2 + 0.02**2) / math.sqrt(252)
    impact = daily_vol * amount**1.5 / math.sqrt(500_000 * 120.0)
    result = results.row(0, named=True)
    assert result["cost_transaction_usd"] == pytest.approx(5e-4 * amount, rel=1e-12)
    assert result["cost_market_impact_usd"] == pytest.approx(impact, rel=1e-9)
