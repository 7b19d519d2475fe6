"""The default asset-class risk model, in the factor form the convex problem needs.

Two securities of one class correlate ``within_class_correlation``; securities of two
classes correlate like their classes (``equity_correlation`` between equity classes,
``other_correlation`` otherwise). As a factor model: one factor per class with
covariance ``F`` (class vols, class correlations divided by the within-class one),
loadings ``sqrt(within)`` on the own class, and a specific variance per security that
holds the rest of its class variance plus ``specific_vol``².
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import numpy as np

from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.policy import Policy, RiskModelPolicy


@dataclasses.dataclass(frozen=True)
class FactorRisk:
    """Σ = Mᵀ M + diag(specific²), with ``M`` of shape (classes, securities)."""

    exposure: np.ndarray  # M = Lᵀ Xᵀ
    specific: np.ndarray

    def variance(self, active: np.ndarray) -> float:
        # np.add.reduce: np.sum's own sum without its dispatch (a few µs a call)
        factor = np.add.reduce(np.square(self.exposure @ active))
        return float(factor + np.add.reduce(np.square(self.specific * active)))

    def security_vols(self) -> np.ndarray:
        return np.sqrt(np.sum(self.exposure**2, axis=0) + self.specific**2)


def account_risk(problem: AccountProblem, policy: Policy) -> FactorRisk:
    """The factor model with the class vols estimated from history where there are
    estimates, the policy's defaults elsewhere. Accounts of one model share their
    classes and vols on a date, so the model is built once per distinct layout."""
    estimated = {
        asset_class: vol
        for asset_class, vol in zip(problem.asset_classes, problem.class_vols.tolist(), strict=True)
        if math.isfinite(vol)
    }
    return _shared_class_risk(
        tuple(problem.asset_classes),
        problem.factor_classes,
        tuple(sorted(estimated.items())),
        _policy_json(policy.optimization.risk_model),
    )


_LAST_POLICY: list[tuple[RiskModelPolicy, str]] = []  # held, so its id stays its own


def _policy_json(policy: RiskModelPolicy) -> str:
    """The risk policy as a cache key, serialized once per policy object (frozen)."""
    if not _LAST_POLICY or _LAST_POLICY[0][0] is not policy:
        _LAST_POLICY[:] = [(policy, policy.model_dump_json())]
    return _LAST_POLICY[0][1]


@functools.lru_cache(maxsize=4096)
def _shared_class_risk(
    asset_classes: tuple[str, ...],
    classes: tuple[str, ...],
    estimated_vols: tuple[tuple[str, float], ...],
    policy_json: str,
) -> FactorRisk:
    """``class_risk`` of hashable arguments, read-only (shared by the accounts)."""
    policy = RiskModelPolicy.model_validate_json(policy_json)
    risk = class_risk(list(asset_classes), list(classes), policy, dict(estimated_vols))
    for array in (risk.exposure, risk.specific):
        array.flags.writeable = False
    return risk


def class_risk(
    asset_classes: list[str],
    classes: list[str],
    policy: RiskModelPolicy,
    estimated_vols: dict[str, float] | None = None,
) -> FactorRisk:
    """The factor model over ``classes`` (the factor order) for the given securities."""
    defaults = policy.class_vol | (estimated_vols or {})
    vols = np.array([defaults.get(c, policy.default_class_vol) for c in classes])
    within = policy.within_class_correlation
    correlation = np.array(
        [[_class_correlation(a, b, policy) / within for b in classes] for a in classes]
    ).reshape(len(classes), len(classes))
    np.fill_diagonal(correlation, 1.0)
    root = _covariance_root(vols[:, None] * correlation * vols[None, :])
    indicator = class_indicator(classes, asset_classes)
    security_class_vol = vols @ indicator
    specific = np.sqrt((1.0 - within) * security_class_vol**2 + policy.specific_vol**2)
    return FactorRisk(exposure=np.sqrt(within) * root.T @ indicator, specific=specific)


def class_indicator(classes: Sequence[str], asset_classes: Sequence[str]) -> np.ndarray:
    """(classes, securities): 1 where the security is of the class."""
    position = {c: i for i, c in enumerate(classes)}
    indicator = np.zeros((len(classes), len(asset_classes)))
    indicator[[position[c] for c in asset_classes], np.arange(len(asset_classes))] = 1.0
    return indicator


def _class_correlation(a: str, b: str, policy: RiskModelPolicy) -> float:
    if a == b:
        return policy.within_class_correlation
    if a.endswith("equity") and b.endswith("equity"):
        return policy.equity_correlation
    return policy.other_correlation


def _covariance_root(covariance: np.ndarray) -> np.ndarray:
    """L with L Lᵀ = covariance (eigenvalues clipped at zero, so never fails)."""
    values, vectors = np.linalg.eigh(covariance)
    return vectors * np.sqrt(np.clip(values, 0.0, None))[None, :]
