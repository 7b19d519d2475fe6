"""Score thresholds per account group and the trigger that decides a SCORE route."""

from __future__ import annotations

import math

from rebalance_pipeline.policy import AccountGroup, Policy, ThresholdCurve


def group_named(policy: Policy, name: str | None) -> AccountGroup | None:
    """The policy's account group called ``name`` (None when there is no such group)."""
    return next((group for group in policy.account_groups if group.name == name), None)


def day_threshold_reaches(curve: ThresholdCurve, score_bps: float) -> float | None:
    """Days since the last trade at which the decaying threshold falls to ``score_bps``.

    Solves ``floor + (start - floor) * exp(-d / tau) = score`` for ``d``; 0 when the
    score already clears the starting threshold, None when it never will (at or under
    the floor, which the curve only approaches).
    """
    if score_bps >= curve.start_bps:
        return 0.0
    if score_bps <= curve.floor_bps:
        return None
    fraction = (score_bps - curve.floor_bps) / (curve.start_bps - curve.floor_bps)
    return -curve.time_constant_days * math.log(fraction)
