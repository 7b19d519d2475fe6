"""The counterfactual line: how far an account was from the other decision."""

from __future__ import annotations

import datetime as dt

import pytest

from rebalance_pipeline.policy import Policy, ThresholdCurve
from rebalance_pipeline.routing.counterfactual import business_days_until, counterfactual
from rebalance_pipeline.routing.thresholds import day_threshold_reaches

AS_OF = dt.date(2026, 3, 16)  # a Monday


def row(route, score, threshold, days=30, group="small", rule=""):
    return {
        "route": route,
        "score_bps": score,
        "threshold_bps": threshold,
        "days_since_last_trade": days,
        "account_group": group,
        "rule": rule,
    }


def test_day_the_threshold_reaches_a_score():
    curve = ThresholdCurve()
    # 15 + 135 exp(-d/60) = 50  ->  d = 60 ln(135/35) = 80.996
    assert day_threshold_reaches(curve, 50.0) == pytest.approx(80.996, abs=1e-3)
    assert day_threshold_reaches(curve, 150.0) == 0.0
    assert day_threshold_reaches(curve, 15.0) is None


def test_business_days_skip_weekends_and_good_friday():
    # Mar 17..31: 11 sessions; April 2026: 22 weekdays less Good Friday (Apr 3); May 1..6: 4
    assert business_days_until(AS_OF, dt.date(2026, 5, 6)) == 36
    # a Saturday counts until the next session, Monday
    assert business_days_until(AS_OF, dt.date(2026, 3, 21)) == 5


def test_no_trade_line_gives_gap_and_business_days():
    line = counterfactual(row("NO_TRADE", 50.0, 96.88), Policy(), AS_OF)
    # the threshold reaches 50 bps on day 81, 51 calendar days after day 30: May 6
    assert line == (
        "NO_TRADE: score 50.0 bps under the threshold 96.9 bps; "
        "the threshold falls below the score in 36 business days if nothing changes"
    )
    assert "in 51 days" in counterfactual(row("NO_TRADE", 50.0, 96.88), Policy())


def test_no_trade_under_the_floor_never_trades_on_score():
    line = counterfactual(row("NO_TRADE", 10.0, 21.5, days=182), Policy(), AS_OF)
    assert line.endswith(
        "the threshold never falls below the score (the score is at or under the floor 15.0 bps)"
    )


def test_traded_account_shows_its_margin():
    line = counterfactual(row("SCORE", 41.2, 25.0), Policy(), AS_OF)
    assert line.startswith("SCORE: score 41.2 bps, 16.2 bps over the threshold 25.0 bps")
    mandate = counterfactual(row("MANDATE", 10.0, 25.0), Policy(), AS_OF)
    assert "15.0 bps under" in mandate
    assert "would not have traded" in mandate


def test_blocked_account_names_its_rule():
    line = counterfactual(row("HOLD", None, 96.9, rule="active hold: call"), Policy(), AS_OF)
    assert line == "HOLD: no score comparison; active hold: call"
