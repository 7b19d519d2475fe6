"""Each variant is the firm's policy with its own trigger, thresholds and tax dial."""

from __future__ import annotations

from rebalance_pipeline.policy import Policy, ThresholdCurve
from rebalance_pipeline.simulation.config import SimulationConfig, Variant
from rebalance_pipeline.simulation.policies import variant_policy


def _curves(policy: Policy) -> dict[str, ThresholdCurve]:
    return {group.name: group.threshold for group in policy.account_groups}


def test_a_swept_curve_replaces_only_its_groups_threshold():
    swept = ThresholdCurve(start_bps=400.0, floor_bps=40.0, time_constant_days=60.0)
    variant = Variant("cost-benefit-decay", "medium", (("mid", swept),))
    policy = variant_policy(SimulationConfig(), variant)
    own = _curves(Policy())
    assert _curves(policy) == {**own, "mid": swept}
    assert policy.optimization.tax_aversion == "medium"


def test_the_fixed_variant_flattens_every_group_at_the_configured_threshold():
    config = SimulationConfig(fixed_threshold_bps=35.0)
    policy = variant_policy(config, Variant("cost-benefit-fixed", "low"))
    assert {(c.start_bps, c.floor_bps) for c in _curves(policy).values()} == {(35.0, 35.0)}


def test_every_shipped_configuration_loads():
    from pathlib import Path

    from rebalance_pipeline.simulation.config import load_config

    folder = Path(__file__).resolve().parents[2] / "rebalance_pipeline/simulation/configs"
    loaded = {path.name: load_config(path) for path in sorted(folder.glob("*.yaml"))}
    assert set(loaded) == {"compare-small.yaml", "full.yaml", "small.yaml"}
    assert loaded["compare-small.yaml"].tax_aversions == ["medium"]
    assert loaded["full.yaml"].days >= 252
