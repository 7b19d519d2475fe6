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

import numpy as np

from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.policy import Policy, RiskModelPolicy


@dataclasses.dataclass(frozen=True)
class FactorRisk:
    """Σ = Mᵀ M + diag(specific²), with ``M`` of shape (classes, securities)."""

    exposure: np.ndarray  # M = Lᵀ Xᵀ
    specific: np.ndarray

    def variance(self, active: np.ndarray) -> float:
        return float(np.sum((self.exposure @ active) ** 2) + np.sum((self.specific * active) ** 2))

    def security_vols(self) -> np.ndarray:
        return np.sqrt(np.sum(self.exposure**2, axis=0) + self.specific**2)


def factor_classes(problem: AccountProblem) -> list[str]:
    """The account's factors: every asset class it holds, targets or has a band for."""
    return sorted(set(problem.asset_classes) | set(problem.band_classes))


def account_risk(problem: AccountProblem, policy: Policy) -> FactorRisk:
    """The factor model with the class vols estimated from history where there are
    estimates, the policy's defaults elsewhere."""
    model = policy.optimization.risk_model
    estimated = {
        asset_class: float(vol)
        for asset_class, vol in zip(problem.asset_classes, problem.class_vols, strict=True)
        if np.isfinite(vol)
    }
    return class_risk(problem.asset_classes, factor_classes(problem), model, estimated)


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
    position = {c: i for i, c in enumerate(classes)}
    indicator = np.zeros((len(classes), len(asset_classes)))
    for j, asset_class in enumerate(asset_classes):
        indicator[position[asset_class], j] = 1.0
    security_class_vol = vols @ indicator
    specific = np.sqrt((1.0 - within) * security_class_vol**2 + policy.specific_vol**2)
    return FactorRisk(exposure=np.sqrt(within) * root.T @ indicator, specific=specific)


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
