"""Only the optimization's own failures become result rows; a bug fails loudly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import account, at_target_lots, policy_with, problems_for

from rebalance_pipeline.optimization import shards
from rebalance_pipeline.optimization.shards import optimize_shard


def test_a_programming_error_after_the_solve_is_raised_not_recorded(monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a defect in the rounding code")

    monkeypatch.setattr(shards, "whole_shares", broken)
    policy = policy_with()
    problems = problems_for(policy, accounts=[account("A", at_target_lots("A"), cash=90_000.0)])
    with pytest.raises(ValueError, match="a defect in the rounding code"):
        optimize_shard(problems, policy)


def test_a_non_finite_input_is_a_data_error_of_its_account_only():
    policy = policy_with()
    accounts = [account("A", at_target_lots("A")), account("B", at_target_lots("B"))]
    good, bad = problems_for(policy, accounts=accounts)
    bad = dataclasses.replace(bad, lot_cost_basis=np.full(len(bad.lot_ids), np.nan))
    results, trades = optimize_shard([good, bad], policy)
    assert results["solve_status"].to_list() == ["optimal", "data_error"]
    assert "non-finite" in results["status_detail"][1]
    assert set(trades["account_id"]) <= {"A"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [(np.array([1.0, np.inf]), r"shape \(2,\)"), (np.zeros(3), r"shape \(3,\)")],
    ids=["non-finite", "wrong shape"],
)
def test_parameter_values_are_checked_all_at_once_naming_the_first_bad_one(bad, message):
    import cvxpy as cp

    from rebalance_pipeline.optimization.errors import DataError
    from rebalance_pipeline.optimization.terms import save_parameters

    first, second, third = (cp.Parameter(2, name=n) for n in ("first", "second", "third"))
    save_parameters([(first, np.ones(2)), (second, [2.0, 3.0]), (third, 4.0 * np.ones(2))])
    assert second.value.tolist() == [2.0, 3.0]
    with pytest.raises(DataError, match=f"parameter second: {message} or non-finite"):
        save_parameters([(first, np.ones(2)), (second, bad), (third, np.full(2, np.nan))])
