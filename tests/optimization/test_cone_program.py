"""Clarabel called straight on a bucket's cone program answers as CVXPY's own solve does.

Generated accounts of several bucket shapes (securities, lot slots, classes; market
impact on and off; the cross-class shift limit on) are solved both ways on the same
parameter values. The first test is also the guard of the CVXPY internals the cone
program reads: a CVXPY release that changes them makes the data differ here.
"""

from __future__ import annotations

import types

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import policy_with
from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import dims_to_solver_cones

from rebalance_pipeline.optimization import cone_program, convex
from rebalance_pipeline.optimization.cone_program import compile_cone_program
from rebalance_pipeline.optimization.errors import Infeasible
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.optimization.risk import account_risk
from rebalance_pipeline.optimization.terms import Account

CLASSES = ["us_equity", "intl_equity", "us_bonds", "em_equity", "munis", "reits"]
POLICIES = {
    "plain": {},
    "impact": {"market_impact_coefficient": 1.0},
    "shift-limited": {"max_cross_class_shift_pct": 2.0},
    "impact, shift-limited, high tax": {
        "market_impact_coefficient": 0.5,
        "max_cross_class_shift_pct": 5.0,
        "tax_aversion": "high",
    },
}
SHAPES = [(3, 1, 3), (5, 3, 2), (12, 2, 4), (40, 4, 6)]  # securities, max lots each, classes


def generated_account(
    rng: np.random.Generator, n: int, max_lots: int, n_classes: int, name: str = "A"
) -> AccountProblem:
    """A taxable or IRA account drifted from its model, with gains and losses, some cash,
    sometimes a withdrawal due and a restricted or wash-sale-blocked security, one in ten
    of type raise_cash (its own compiled problem, with the cap on sales), one in four with
    a realized-gain budget (another, with the priced overrun) and lots near turning
    long-term deferred."""
    prices = np.round(rng.uniform(10, 400, n), 2)
    classes = [CLASSES[i] for i in rng.integers(0, n_classes, n)]
    targets = rng.dirichlet(np.ones(n)) * (rng.random(n) < 0.85)
    lots_per = rng.integers(1, max_lots + 1, n) * (rng.random(n) < 0.9)
    lot_security = np.repeat(np.arange(n), lots_per)
    lot_quantities = np.floor(rng.uniform(1, 400, len(lot_security)))
    lot_values = lot_quantities * prices[lot_security]
    quantities = np.bincount(lot_security, lot_quantities, minlength=n)
    cash = float(rng.uniform(0, 0.1) * lot_values.sum() + 1000.0)
    total = float(lot_values.sum() + cash)
    band_classes = sorted(set(classes))
    class_targets = np.array([targets[np.array(classes) == c].sum() for c in band_classes])
    return AccountProblem(
        account_id=name,
        household_id="H",
        registration=str(rng.choice(["taxable", "taxable", "traditional_ira"])),
        st_rate=0.37,
        lt_rate=0.2,
        total_value=total,
        cash=cash,
        required_cash=float(rng.choice([0.0, 0.0, 0.03]) * total),
        security_ids=[f"S{i:03d}" for i in range(n)],
        asset_classes=classes,
        identical_groups=[f"G{i}" for i in range(n)],
        prices=prices,
        ratings=rng.integers(1, 6, n).astype(np.float64),
        round_lots=np.ones(n, dtype=np.int64),
        targets=targets / max(targets.sum(), 1e-9),
        quantities=quantities,
        halted=np.zeros(n, dtype=np.bool_),
        untradable=np.zeros(n, dtype=np.bool_),
        restricted=rng.random(n) < 0.05,
        buy_blocked=rng.random(n) < 0.05,
        lot_ids=[f"{name}-L{j:03d}" for j in range(len(lot_security))],
        lot_security=lot_security,
        lot_quantities=lot_quantities,
        lot_cost_basis=lot_values * rng.lognormal(0.0, 0.3, len(lot_security)),
        lot_long_term=rng.random(len(lot_security)) < 0.6,
        lot_days_to_long_term=rng.integers(0, 60, len(lot_security)),
        lot_loss_sale_blocked=rng.random(len(lot_security)) < 0.05,
        band_classes=band_classes,
        band_min=np.clip(class_targets - 0.03, 0.0, 1.0),
        band_max=class_targets + 0.03,
        class_vols=np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0.05, 0.3, n)),
        volumes=np.where(rng.random(n) < 0.2, np.nan, rng.uniform(1e4, 1e6, n)),
        mandates=[],
        unpriced_targets=[],
        rebalance_type="raise_cash" if rng.random() < 0.1 else "normal",
        long_term_deferral_days=30,
        remaining_gain_budget_usd=float(rng.uniform(0, 5000)) if rng.random() < 0.25 else None,
    )


def loaded_bucket(problem: AccountProblem, policy) -> convex.BucketProblem:
    """A fresh bucket of the account's shape holding the account's numbers."""
    bucket = convex.BucketProblem(*convex.bucket_key(problem, policy))
    bucket.set_values(Account(problem, policy, account_risk(problem, policy)), policy)
    return bucket


def cases(per_shape: int, seed: int = 11):
    rng = np.random.default_rng(seed)
    for label, optimization in POLICIES.items():
        for shape in SHAPES:
            for _ in range(per_shape):
                yield label, policy_with(**optimization), generated_account(rng, *shape)


@pytest.mark.parametrize("label", list(POLICIES))
def test_the_cone_program_is_the_data_cvxpy_gives_clarabel(label):
    for _, policy, problem in cases(1, seed=list(POLICIES).index(label)):
        bucket = loaded_bucket(problem, policy)
        program = compile_cone_program(bucket.problem, [bucket.buy, bucket.sell])
        for _ in range(2):  # the map, not the values it was compiled with
            direct = program.data()
            data, _, _ = bucket.problem.get_problem_data(cp.CLARABEL)
            expected_p = sp.triu(data["P"]).tocsc()  # as CVXPY's Clarabel interface does
            for ours, theirs in [(direct.P, expected_p), (direct.A, data["A"])]:
                assert ours.shape == theirs.shape
                assert np.array_equal(ours.indptr, theirs.indptr)
                assert np.array_equal(ours.indices, theirs.indices)
                assert np.array_equal(ours.data, theirs.data)
            assert np.array_equal(direct.q, data["c"])
            assert np.array_equal(direct.b, data["b"])
            assert list(map(repr, program.cones)) == list(
                map(repr, dims_to_solver_cones(data["dims"]))
            )
            for parameter in bucket.problem.parameters():
                parameter.value = parameter.value * 1.01


# CVXPY's own solve evaluates the objective: the impact's power of a trade a hair below 0
@pytest.mark.filterwarnings("ignore:invalid value encountered in power:RuntimeWarning")
def test_direct_solves_equal_cvxpy_solves_of_many_accounts():
    shapes = set()
    for label, policy, problem in cases(per_shape=3):
        bucket = loaded_bucket(problem, policy)
        shapes.add(bucket.key)
        direct = bucket.solve(cp.CLARABEL, cp.CLARABEL)
        bucket.problem.solve(solver=cp.CLARABEL, warm_start=False)
        assert direct.solver == cp.CLARABEL and direct.failures == ""
        assert bucket.problem.status == cp.OPTIMAL, label
        np.testing.assert_allclose(
            direct.buy_weights, np.clip(bucket.buy.value, 0, None), rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            direct.sell_weights, np.clip(bucket.sell.value, 0, None), rtol=0, atol=1e-12
        )
    assert len(shapes) >= 12
    assert {key[3:5] for key in shapes} == {(i, s) for i in (False, True) for s in (False, True)}
    assert {key[5] for key in shapes} == {False, True}  # sales capped (raise_cash) or not
    assert {key[6] for key in shapes} == {False, True}  # realized gains budgeted or not


def test_an_infeasible_account_is_infeasible_both_ways():
    """Everything halted and frozen, a withdrawal due and no cash to pay it."""
    problem = generated_account(np.random.default_rng(3), 8, 2, 3)
    problem = AccountProblem(
        **{
            **problem.__dict__,
            "halted": np.ones(8, dtype=np.bool_),
            "cash": 0.0,
            "total_value": problem.total_value - problem.cash,
            "required_cash": 0.1 * problem.total_value,
        }
    )
    policy = policy_with(halt_mode="freeze_security")
    bucket = loaded_bucket(problem, policy)
    with pytest.raises(Infeasible, match="CLARABEL: infeasible"):
        bucket.solve(cp.CLARABEL, cp.SCS)
    bucket.problem.solve(solver=cp.CLARABEL, warm_start=False)
    assert bucket.problem.status == cp.INFEASIBLE


@pytest.mark.parametrize(
    ("clarabel_status", "outcome"),
    [
        ("AlmostSolved", "CLARABEL"),
        ("PrimalInfeasible", "infeasible"),
        ("MaxIterations", "SCS after CLARABEL: user_limit"),
        ("InsufficientProgress", "SCS after CLARABEL: Clarabel stopped: InsufficientProgress"),
        ("DualInfeasible", "SCS after CLARABEL: unbounded"),
    ],
)
def test_clarabels_statuses_are_read_as_cvxpy_reads_them(monkeypatch, clarabel_status, outcome):
    """Clarabel's answer with its status replaced: a solution is used only when Clarabel
    calls it solved, infeasibility stops the account, anything else goes to the fallback."""
    real_solver = cone_program.clarabel.DefaultSolver

    class Relabelled:
        def __init__(self, *args):
            self.solver = real_solver(*args)

        def solve(self):
            return types.SimpleNamespace(status=clarabel_status, x=self.solver.solve().x)

    monkeypatch.setattr(cone_program.clarabel, "DefaultSolver", Relabelled)
    problem = generated_account(np.random.default_rng(5), 5, 2, 2)
    bucket = loaded_bucket(problem, policy_with())
    if outcome == "infeasible":
        with pytest.raises(Infeasible, match="CLARABEL: infeasible"):
            bucket.solve(cp.CLARABEL, cp.SCS)
        return
    solution = bucket.solve(cp.CLARABEL, cp.SCS)
    assert f"{solution.solver} after {solution.failures}".removesuffix(" after ") == outcome


def test_a_cone_program_that_cannot_be_compiled_is_a_bug_not_a_solver_failure(monkeypatch):
    """CVXPY internals that changed must stop the run, not send every account to the
    fallback solver with a failure note."""

    def changed(*args):
        raise RuntimeError("CVXPY's parameter vector no longer ends in its constant")

    monkeypatch.setattr(convex, "compile_cone_program", changed)
    bucket = loaded_bucket(generated_account(np.random.default_rng(9), 5, 1, 2), policy_with())
    with pytest.raises(RuntimeError, match="no longer ends"):
        bucket.solve(cp.CLARABEL, cp.SCS)
