"""The threshold sweep on toy runs whose trading days fall as the threshold grows."""

from __future__ import annotations

import math

import pytest

from rebalance_pipeline.policy import ThresholdCurve
from rebalance_pipeline.simulation.sweep import SweepPoint, sweep_threshold

BASE = ThresholdCurve(start_bps=150.0, floor_bps=15.0, time_constant_days=60.0)


def smooth(curve: ThresholdCurve) -> SweepPoint:
    """Trading days fall smoothly with the floor; tracking error grows with it."""
    days = 252 * math.exp(-curve.floor_bps / 10)
    return SweepPoint(trading_days=days, tracking_error_pct=curve.floor_bps / 100)


def stepped(curve: ThresholdCurve) -> SweepPoint:
    """Whole trading days only, jumping from 13 straight to 10 (no curve gives 11 or 12)."""
    days = 252 * math.exp(-curve.floor_bps / 10)
    whole = 13 if days > 10 else math.floor(days)
    return SweepPoint(trading_days=float(whole), tracking_error_pct=0.0)


@pytest.mark.parametrize("target", [4.0, 12.0, 52.0, 200.0])
def test_the_sweep_reaches_a_reachable_target(target: float):
    result = sweep_threshold(target, smooth, BASE, tolerance=0.1)
    assert result.reached
    assert abs(result.trading_days - target) <= 0.1
    assert result.trading_days == smooth(result.threshold).trading_days
    assert result.tracking_error_pct == smooth(result.threshold).tracking_error_pct


def test_the_sweep_scales_start_and_floor_together_and_keeps_the_decay():
    result = sweep_threshold(12.0, smooth, BASE, tolerance=0.1)
    threshold = result.threshold
    assert threshold.start_bps / threshold.floor_bps == pytest.approx(10.0)
    assert threshold.time_constant_days == BASE.time_constant_days
    assert threshold.floor_bps != BASE.floor_bps


def test_an_unreachable_target_gives_the_closest_run_not_reached():
    # the toy never trades more than 252 days a year
    result = sweep_threshold(300.0, smooth, BASE, max_runs=10)
    assert not result.reached
    assert result.runs == 10
    assert result.trading_days == pytest.approx(252.0, abs=1.0)


def test_a_target_the_trading_days_jump_over_stops_after_the_run_limit():
    result = sweep_threshold(11.5, stepped, BASE, tolerance=0.25, max_runs=16)
    assert not result.reached
    assert result.runs == 16
    assert result.trading_days in (10.0, 13.0)
