"""A failure inside the solver for one account (an exception raised by the solver, a
non-finite solution) never stops its shard: the account gets a result row naming the
failure and goes to MANUAL with ``solver_error``; the other accounts solve as without it."""

from __future__ import annotations

import dataclasses

import cvxpy as cp
import numpy as np
import polars as pl
import pytest
from stage_books import account, at_target_lots, book, decision, result, run

from rebalance_pipeline.optimization import convex
from rebalance_pipeline.optimization.cone_program import ConeProgram

FAILING = "B"


SCALES = {"A": 1.0, FAILING: 0.5, "C": 2.0}
SCENARIO = book([account(a, at_target_lots(a, s), cash=60_000.0) for a, s in SCALES.items()])


@pytest.fixture(scope="module")
def healthy():
    return run(SCENARIO)


SOLVES = cp.Problem.solve, ConeProgram.solve  # the healthy ones


def _raising(self, *args, **kwargs):
    raise ArithmeticError("overflow in the factorization")


def _non_finite_cvxpy(self, *args, **kwargs):
    value = SOLVES[0](self, *args, **kwargs)
    for variable in self.variables():
        variable.save_value(np.full(variable.shape, np.nan))  # as a solver would
    return value


def _non_finite_clarabel(self):
    solution = SOLVES[1](self)
    nan = tuple(np.full(v.shape, np.nan) for v in solution.values)
    return dataclasses.replace(solution, values=nan)


@pytest.fixture
def failing_solver(monkeypatch):
    """Install a broken solver for the account ``FAILING`` only: Clarabel (called
    straight on the cone program) and every solver CVXPY calls."""
    solving = []
    solve_convex = convex.solve_convex

    def tracked(problem, *args):
        solving[:] = [problem.account_id]
        return solve_convex(problem, *args)

    def dispatching(healthy, broken):
        def dispatch(self, *args, **kwargs):
            chosen = broken if solving == [FAILING] else healthy
            return chosen(self, *args, **kwargs)

        return dispatch

    def install(broken_cvxpy, broken_clarabel):
        monkeypatch.setattr(convex, "solve_convex", tracked)
        monkeypatch.setattr(cp.Problem, "solve", dispatching(SOLVES[0], broken_cvxpy))
        monkeypatch.setattr(ConeProgram, "solve", dispatching(SOLVES[1], broken_clarabel))

    return install


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        ((_raising, _raising), "ArithmeticError: overflow"),
        ((_non_finite_cvxpy, _non_finite_clarabel), "non-finite"),
    ],
)
def test_a_solver_failure_of_one_account_goes_to_manual_and_the_shard_goes_on(
    healthy, failing_solver, broken, named
):
    failing_solver(*broken)
    outputs = run(SCENARIO)

    failed = result(outputs, FAILING)
    assert failed["solve_status"] == "solver_error"
    assert named in failed["status_detail"]
    assert outputs.proposed_trades.filter(pl.col("account_id") == FAILING).is_empty()
    routed = decision(outputs, FAILING)
    assert routed["route"] == "MANUAL" and routed["reasons"][0] == "solver_error"
    for other in set(SCALES) - {FAILING}:
        assert {**result(outputs, other), "solve_seconds": 0} == {
            **result(healthy, other),
            "solve_seconds": 0,
        }
        assert decision(outputs, other) == decision(healthy, other)
