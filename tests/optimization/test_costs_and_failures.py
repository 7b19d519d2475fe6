"""Optional cost terms, solver fallback and solver failure as result rows."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from conftest import SECURITIES, account, at_target_lots, lot, policy_with, problems_for, security

from rebalance_pipeline.optimization.shards import optimize_shard

CASH_HEAVY = [account("A", at_target_lots("A"), cash=200_000.0)]


def solve(policy, accounts=CASH_HEAVY):
    return optimize_shard(problems_for(policy, accounts=accounts), policy)


def test_quality_bonus_tilts_buys_to_the_better_rated_security():
    """LCAP (rating 5) and TMKT (rating 1) share the equity half of the model: with a
    bonus the cash leans to LCAP, and the bonus is in the score."""
    securities = [
        {**s, "rating": {"SEC-LCAP": 5, "SEC-TMKT": 1}.get(s["id"], s["rating"])}
        for s in SECURITIES
    ]
    model = {
        "targets": {"SEC-TMKT": 0.25, "SEC-LCAP": 0.25, "SEC-BOND": 0.5},
        "bands": {"us_equity": (0.0, 1.0), "us_bonds": (0.0, 1.0)},
    }
    accounts = [account("A", [lot("A-L", "SEC-BOND", 5000, 400000.0)], cash=400_000.0)]
    book = {"accounts": accounts, "securities": securities, "models": {"M-BAL": model}}
    bought = {}
    for bonus in (0.0, 50.0):
        policy = policy_with(quality_bonus_bps_per_rating=bonus)
        results, trades = optimize_shard(problems_for(policy, **book), policy)
        buys = trades.filter(pl.col("side") == "buy").select("security_id", "amount")
        bought[bonus] = dict(buys.iter_rows())
    assert bought[0.0]["SEC-LCAP"] == pytest.approx(bought[0.0]["SEC-TMKT"], abs=300.0)
    assert bought[50.0]["SEC-LCAP"] > bought[50.0]["SEC-TMKT"] + 10_000.0
    # 50 bps per rating step above 3: +1% of every LCAP dollar, −1% of every TMKT dollar
    rating = {s["id"]: s["rating"] for s in securities}
    expected = sum(0.005 * (rating[s] - 3) * amount for s, amount in bought[50.0].items())
    assert results.row(0, named=True)["benefit_quality_usd"] == pytest.approx(expected)


def test_fallback_solver_is_used_when_the_first_is_unavailable():
    policy = policy_with(solver="NO_SUCH_SOLVER", fallback_solver="CLARABEL")
    results, trades = solve(policy)
    result = results.row(0, named=True)
    assert result["solve_status"] == "optimal"
    assert "solved by CLARABEL after NO_SUCH_SOLVER" in result["status_detail"]
    assert trades.height > 0


def test_solver_failure_is_a_result_row():
    policy = policy_with(solver="NO_SUCH_SOLVER", fallback_solver="NOR_THIS_ONE")
    results, trades = solve(policy)
    result = results.row(0, named=True)
    assert result["solve_status"] == "solver_error"
    assert "NOR_THIS_ONE" in result["status_detail"]
    assert trades.is_empty() and result["score_usd"] == 0.0
    assert result["cash_after"] == result["cash_before"] == 200_000.0


def test_account_whose_model_has_no_close_today_is_no_universe():
    """A cash-only account on a model of one security nobody holds and no custodian
    priced today: validation has nothing to suspend, and nothing can be bought."""
    accounts = [account("A", [], cash=10_000.0, model="M-TMKT")]
    securities = [security("SEC-TMKT", "us_equity", None, "TOTAL_US")]
    models = {"M-TMKT": {"targets": {"SEC-TMKT": 1.0}, "bands": {}}}
    policy = policy_with()
    problems = problems_for(policy, accounts=accounts, securities=securities, models=models)
    results, trades = optimize_shard(problems, policy)
    assert results["solve_status"].to_list() == ["no_universe"]
    assert trades.is_empty()


BREACHED = [
    account(
        "B",
        [
            lot("B-TMKT", "SEC-TMKT", 1080, 216000.0),
            lot("B-LCAP", "SEC-LCAP", 850, 81600.0),
            lot("B-INTL", "SEC-INTL", 1200, 48000.0),
            lot("B-BOND", "SEC-BOND", 1350, 86400.0),
            lot("B-BND2", "SEC-BND2", 600, 48000.0),
        ],
        cash=6000.0,
    )
]  # us_equity 61% against a [45%, 55%] band (acceptance book p12)


def _moved_between_classes(trades: pl.DataFrame) -> float:
    signed = trades.with_columns(
        pl.when(pl.col("side") == "buy").then(pl.col("amount")).otherwise(-pl.col("amount"))
    )
    by_class = signed.group_by("asset_class").agg(pl.col("amount").sum())
    return float(by_class["amount"].clip(0).sum())


def test_a_cross_class_shift_limit_keeps_money_in_its_asset_class():
    """The band breach moves money between classes; with a 1% limit at most 1% of the
    value (plus idle cash) does, and the account trades less."""
    free_results, free_trades = solve(policy_with(), BREACHED)
    limited_results, limited_trades = solve(policy_with(max_cross_class_shift_pct=1.0), BREACHED)
    value = limited_results["account_value"][0]
    assert _moved_between_classes(free_trades) > 0.05 * value
    assert _moved_between_classes(limited_trades) <= 0.01 * value + 6000.0 + 1.0
    assert limited_results["turnover_usd"][0] < free_results["turnover_usd"][0]


def test_a_security_with_a_doubtful_price_is_not_bought():
    """INTL's close jumped since yesterday: its holder H is suspended, and an account
    that lacks it must not buy it at that price; it does buy it when the price is fine."""
    no_intl = account(
        "N",
        [
            lot("N-TMKT", "SEC-TMKT", 1120, 224000.0),
            lot("N-LCAP", "SEC-LCAP", 1000, 96000.0),
            lot("N-BOND", "SEC-BOND", 2500, 160000.0),
            lot("N-BND2", "SEC-BND2", 1200, 96000.0),
        ],
        cash=90000.0,
    )
    holder = account("H", at_target_lots("H"))
    policy = policy_with()
    fine = problems_for(policy, accounts=[no_intl, holder])
    assert [p.account_id for p in fine] == ["H", "N"]
    _, trades = optimize_shard(fine, policy)
    assert "SEC-INTL" in trades.filter(pl.col("account_id") == "N")["security_id"].to_list()
    doubtful = problems_for(policy, accounts=[no_intl, holder], untradable=["SEC-INTL"])
    assert [p.account_id for p in doubtful] == ["N"]
    _, trades = optimize_shard(doubtful, policy)
    assert "SEC-INTL" not in trades["security_id"].to_list()


def test_an_empty_account_and_an_account_paying_out_all_its_cash_are_result_rows():
    empty = account("E", [], cash=0.0)
    cash_only = account("C", [], cash=5000.0)
    policy = policy_with()
    problems = problems_for(
        policy,
        accounts=[empty, cash_only],
        cash_requests=[{"account": "C", "amount": 5000.0}],
    )
    results, trades = optimize_shard(problems, policy)
    assert trades.is_empty()
    by_account = {row["account_id"]: row for row in results.iter_rows(named=True)}
    assert set(by_account) == {"E", "C"}
    assert by_account["C"]["solve_status"] == "optimal"
    assert by_account["C"]["cash_after"] == pytest.approx(5000.0)
    assert all(np.isfinite(row["score_bps"]) for row in by_account.values())
