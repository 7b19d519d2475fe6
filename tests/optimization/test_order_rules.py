"""Rules that apply to an order (account × security × side), to the score's unit, and to
the buys blocked for a harvest the solver then does not make."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from conftest import account, at_target_lots, lot, policy_with, problems_for

from rebalance_pipeline.optimization.heuristic import whole_shares
from rebalance_pipeline.optimization.shards import optimize_shard


def test_the_minimum_trade_size_applies_to_the_order_not_to_each_lot():
    """Two TMKT lots of $1,000 each sold together make one $2,000 order: above a $1,500
    minimum, so both stay although each lot alone is below it."""
    policy = policy_with(min_trade_usd=1500.0)
    lots = [
        *at_target_lots("A")[1:],
        lot("A-L-TMKT-1", "SEC-TMKT", 4, 900.0),
        lot("A-L-TMKT-2", "SEC-TMKT", 4, 950.0, "2022-01-03"),
    ]
    [problem] = problems_for(policy, accounts=[account("A", lots)])
    sells = np.zeros(len(problem.lot_ids))
    for lot_id in ("A-L-TMKT-1", "A-L-TMKT-2"):
        sells[problem.lot_ids.index(lot_id)] = 1000.0 / problem.account_value
    trades = whole_shares(problem, np.zeros(len(problem.security_ids)), sells, policy)
    sold = dict(zip(problem.lot_ids, trades.sell_shares, strict=True))
    assert sold["A-L-TMKT-1"] == 4 and sold["A-L-TMKT-2"] == 4


def test_score_bps_is_of_the_value_the_weights_are_of():
    """With a $200,000 withdrawal due, weights and the risk benefit are of the value less
    the withdrawal, and so is the score in bps."""
    policy = policy_with()
    problems = problems_for(
        policy,
        accounts=[account("A", at_target_lots("A", 1.25), cash=10_000.0)],
        cash_requests=[{"account": "A", "amount": 200_000.0}],
    )
    results, _ = optimize_shard(problems, policy)
    result = results.row(0, named=True)
    assert result["account_value"] == pytest.approx(1_010_000.0)
    invested = 1_010_000.0 - 200_000.0
    assert result["score_bps"] == pytest.approx(result["score_usd"] / invested * 1e4)


def test_buys_blocked_for_a_likely_harvest_are_freed_when_no_harvest_happens():
    """The TMKT lot is 0.5% under its cost: at 37% that looks worth a harvest, so TOTAL_US
    buys are blocked before the first solve. Selling it would cost more in tracking error
    than it saves, the solver keeps it, and the account (short of TMKT, long of cash) must
    then be free to buy TMKT after all."""
    policy = policy_with()
    lots = [
        lot("A-L-TMKT", "SEC-TMKT", 800, 800 * 250 * 1.005, "2026-01-05"),
        *at_target_lots("A")[1:],
    ]
    _, trades = optimize_shard(
        problems_for(policy, accounts=[account("A", lots, cash=90_000.0)]), policy
    )
    sold = trades.filter((pl.col("side") == "sell") & (pl.col("security_id") == "SEC-TMKT"))
    bought = trades.filter((pl.col("side") == "buy") & (pl.col("security_id") == "SEC-TMKT"))
    assert sold.is_empty()
    assert bought["amount"].sum() > 50_000.0


def test_rounding_up_a_sale_does_not_carry_it_past_the_gain_budget():
    """The solution sells 20.4 TMKT shares ($50 gain each, $1,020): rounded up to 21 they
    would realize $1,050, past both the $1,000 left of the gain budget and the solution's
    own gain; the sale rounds down to 20 instead. Without a budget it rounds up."""
    policy = policy_with()
    lots = [lot("A-L-TMKT", "SEC-TMKT", 800, 800 * 200.0), *at_target_lots("A")[1:]]
    [problem] = problems_for(policy, accounts=[account("A", lots)])
    sells = np.zeros(len(problem.lot_ids))
    sells[problem.lot_ids.index("A-L-TMKT")] = 20.4 * 250.0 / problem.account_value
    buys = np.zeros(len(problem.security_ids))
    budgeted = dataclasses.replace(problem, remaining_gain_budget_usd=1000.0)
    sold = {
        name: dict(zip(p.lot_ids, whole_shares(p, buys, sells, policy).sell_shares, strict=True))
        for name, p in (("free", problem), ("budgeted", budgeted))
    }
    assert sold["free"]["A-L-TMKT"] == 21
    assert sold["budgeted"]["A-L-TMKT"] == 20
