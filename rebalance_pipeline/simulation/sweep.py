"""The threshold curve of an account group that reaches a target number of trading days
a year: ``rebalance simulate --sweep``.

The search scales the group's curve (its ``start_bps`` and ``floor_bps`` together, the
``time_constant_days`` kept): a higher threshold never trades more, so the trading days
fall as the scale grows and a bisection on the scale's logarithm finds the target. Each
step is a simulation run, passed in as ``evaluate``, so the search itself knows nothing
of the engine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from rebalance_pipeline.policy import ThresholdCurve

BRACKET_STEP = 4.0  # the scale is multiplied (or divided) by this until the target is bracketed


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """What one run with a curve gave: steady-state trading days per account per year
    and the annualized tracking error (%)."""

    trading_days: float
    tracking_error_pct: float


@dataclasses.dataclass(frozen=True)
class SweepResult:
    target_days: float
    threshold: ThresholdCurve
    trading_days: float
    tracking_error_pct: float
    reached: bool  # trading days within the tolerance of the target
    runs: int


Evaluate = Callable[[ThresholdCurve], SweepPoint]


def scaled(curve: ThresholdCurve, scale: float) -> ThresholdCurve:
    return curve.model_copy(
        update={"start_bps": curve.start_bps * scale, "floor_bps": curve.floor_bps * scale}
    )


def sweep_threshold(
    target_days: float,
    evaluate: Evaluate,
    base: ThresholdCurve,
    tolerance: float = 0.5,
    max_runs: int = 24,
) -> SweepResult:
    """The scaled ``base`` curve whose run trades closest to ``target_days`` a year,
    stopping as soon as a run is within ``tolerance`` or after ``max_runs`` runs
    (``reached`` False then: the target lies beyond what scaling the curve can give, or
    the trading days jump over it)."""
    runs: list[tuple[float, SweepPoint]] = []

    def run(scale: float) -> SweepPoint:
        point = evaluate(scaled(base, scale))
        runs.append((scale, point))
        return point

    def done() -> bool:
        return _close(runs[-1][1], target_days, tolerance) or len(runs) >= max_runs

    low = high = 1.0  # low trades at least the target, high at most
    if run(1.0).trading_days > target_days:
        while not done() and runs[-1][1].trading_days > target_days:
            low, high = high, high * BRACKET_STEP
            run(high)
    else:
        while not done() and runs[-1][1].trading_days < target_days:
            low, high = low / BRACKET_STEP, low
            run(low)
    while not done():
        middle = math.sqrt(low * high)
        if run(middle).trading_days > target_days:
            low = middle
        else:
            high = middle
    scale, best = min(runs, key=lambda found: abs(found[1].trading_days - target_days))
    return SweepResult(
        target_days=target_days,
        threshold=scaled(base, scale),
        trading_days=best.trading_days,
        tracking_error_pct=best.tracking_error_pct,
        reached=_close(best, target_days, tolerance),
        runs=len(runs),
    )


def _close(point: SweepPoint, target_days: float, tolerance: float) -> bool:
    return abs(point.trading_days - target_days) <= tolerance
