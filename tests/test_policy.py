import datetime as dt

import pytest
from pydantic import ValidationError

from rebalance_pipeline.policy import Policy, ThresholdCurve, policy_as_of


def test_default_groups_follow_the_firm_default():
    policy = Policy()
    assert policy.group_for(999_999, "taxable").review == "none"
    assert policy.group_for(1_000_000, "taxable").review == "outliers"
    assert policy.group_for(25_000_000, "roth").review == "all"


def test_threshold_decays_from_start_to_floor():
    curve = ThresholdCurve(start_bps=150, floor_bps=15, time_constant_days=60)
    assert curve.at(0) == pytest.approx(150)
    assert curve.at(60) == pytest.approx(15 + 135 / 2.718281828459045)
    assert curve.at(10_000) == pytest.approx(15)


def test_policy_files_are_effective_dated(tmp_path):
    (tmp_path / "2026-01-01.yaml").write_text("workflow: {halt_mode: freeze_security}\n")
    (tmp_path / "2026-03-01.yaml").write_text("optimization: {tax_aversion: high}\n")
    assert policy_as_of(tmp_path, dt.date(2025, 12, 31)) == Policy()
    assert policy_as_of(tmp_path, dt.date(2026, 2, 1)).workflow.halt_mode == "freeze_security"
    march = policy_as_of(tmp_path, dt.date(2026, 3, 16))
    assert march.optimization.tax_aversion == "high"
    assert march.effective_date == dt.date(2026, 3, 1)


def test_unknown_policy_keys_are_rejected(tmp_path):
    with pytest.raises(ValidationError, match="halt_mod"):
        Policy.model_validate({"workflow": {"halt_mod": "x"}})
