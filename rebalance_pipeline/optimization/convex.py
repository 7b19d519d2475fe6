"""The convex problem, written once per bucket shape as a DPP-compliant CVXPY problem.

Accounts are padded up to bucket sizes (padding has bounds 0), so one compiled problem
serves every account of a bucket: only parameter values change between solves
(cvxportfolio's compile-once pattern). Clarabel, the usual solver, is called straight on
the bucket's cone program (``cone_program.py``), skipping CVXPY's per-solve work; other
solvers, the fallback among them, go through ``Problem.solve``. Everything is in weights
of V = total value less due withdrawals. The objective is −Σ of the score's terms
(``terms.py``) plus the price of missing an asset-class band; the constraints are the
holdings' bounds, the cash and the bands (and the optional cross-class shift limit).

Lots sit in fixed slots: security i owns sell slots [i·k, (i+1)·k), k = lot slots per
security. The lot→security map is then one constant sparse matrix per bucket, not a
dense parameter: a dense N×L parameter puts N·L structural non-zeros into every KKT
system and made each solve about three times slower.
"""

from __future__ import annotations

import dataclasses
import math
import time

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from rebalance_pipeline.optimization.account_rules import (
    GAIN_OVERRUN_PRICE,
    gain_budgeted,
    sells_capped,
    trade_rules,
)
from rebalance_pipeline.optimization.cone_program import ConeProgram, compile_cone_program
from rebalance_pipeline.optimization.errors import Infeasible, SolverFailure
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.optimization.risk import (
    FactorRisk,
    account_risk,
    class_indicator,
)
from rebalance_pipeline.optimization.terms import (
    Account,
    Layout,
    Variables,
    save_parameters,
    score_terms,
)
from rebalance_pipeline.policy import Policy

BucketKey = tuple[int, int, int, bool, bool, bool, bool]
NO_BAND = 1e3  # upper band of padded or unbanded classes
BUY_CAP = 1e2  # weight bound on a buy that is allowed


@dataclasses.dataclass(frozen=True)
class ConvexSolution:
    buy_weights: np.ndarray  # per universe security
    sell_weights: np.ndarray  # per lot
    solver: str
    solve_seconds: float  # CPU seconds in the solver calls, fallback included
    failures: str  # why the first solver's answer was not used ("" when it was)


def bucket_size(n: int) -> int:
    """Pad to a multiple of 8 up to 64, of 32 above (few buckets, little waste)."""
    step = 8 if n <= 64 else 32
    return max(step, math.ceil(n / step) * step)


def slot_size(lots_per_security: int) -> int:
    """Lot slots per security: the next power of two."""
    return 1 << max(lots_per_security - 1, 0).bit_length()


def bucket_key(problem: AccountProblem, policy: Policy) -> BucketKey:
    """(securities, lot slots per security, factor classes, market impact on, cross-class
    shift limited, total sales capped, realized gains budgeted): the terms a policy leaves
    off, the cap other accounts than ``raise_cash`` ones do not have and the gain budget
    of accounts without one are not in the compiled problem."""
    classes = len(problem.factor_classes)
    counts = np.bincount(problem.lot_security, minlength=1)
    return (
        bucket_size(len(problem.security_ids)),
        slot_size(int(counts.max())),
        max(4, math.ceil(classes / 4) * 4),
        with_market_impact(policy),
        policy.optimization.max_cross_class_shift_pct is not None,
        sells_capped(problem),
        gain_budgeted(problem),
    )


def with_market_impact(policy: Policy) -> bool:
    return policy.optimization.market_impact_coefficient > 0


def layout(problem: AccountProblem, key: BucketKey) -> Layout:
    """The account's place in the bucket: each lot's sell slot is its security's first
    slot plus its rank in that security."""
    n, slots, n_classes, *_ = key
    return Layout(n, slots, n_classes, problem.lot_security * slots + problem.lot_rank)


class CompiledProblem:
    """A DPP problem compiled once and re-solved with new parameter values: its
    ``problem``, the ``buy`` and ``sell`` variables read from a solution, and the cone
    program Clarabel solves (compiled on the first solve)."""

    problem: cp.Problem
    buy: cp.Variable
    sell: cp.Variable
    cone_program: ConeProgram | None = None
    solves: int = 0

    def solve(self, solver: str, fallback: str) -> ConvexSolution:
        """Solve with ``solver``, then ``fallback`` when the first fails or is unsure.

        A failure inside a solver (its own error, any exception it raises on this
        account's numbers, or a solution that is not finite) is that solver's failure,
        named in the account's result: it never stops the shard.
        Never warm-started: a solution must not depend on what the process solved before.
        """
        failures = []
        start = time.thread_time()  # CPU, so other load on the machine does not count
        if cp.CLARABEL in (solver, fallback) and self.cone_program is None:
            # outside the solvers' try: a program that cannot be compiled is a bug
            self.cone_program = compile_cone_program(self.problem, [self.buy, self.sell])
        for name in dict.fromkeys([solver, fallback]):
            try:
                status, buy, sell = self._solve_with(name)
            except cp.SolverError as error:
                failures.append(f"{name}: {error}".strip())
                continue
            except Exception as error:  # raised inside the solver on this account's data
                failures.append(f"{name}: {type(error).__name__}: {error}")
                continue
            finally:
                self.solves += 1
            if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
                raise Infeasible(f"{name}: {status}")
            if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and buy is not None:
                if not (np.isfinite(buy).all() and np.isfinite(sell).all()):
                    failures.append(f"{name}: {status} with a non-finite solution")
                    continue
                return ConvexSolution(
                    buy_weights=np.clip(buy, 0.0, None),
                    sell_weights=np.clip(sell, 0.0, None),
                    solver=name,
                    solve_seconds=time.thread_time() - start,
                    failures="; ".join(failures),
                )
            failures.append(f"{name}: {status}")
        raise SolverFailure("; ".join(failures))

    def _solve_with(self, name: str) -> tuple[str, np.ndarray | None, np.ndarray | None]:
        """(CVXPY's status, buy, sell): Clarabel straight on the bucket's cone program,
        any other solver through CVXPY."""
        if name != cp.CLARABEL:
            self.problem.solve(solver=name, warm_start=False)
            return self.problem.status, self.buy.value, self.sell.value
        solution = self.cone_program.solve()  # type: ignore[union-attr]  (compiled in solve)
        if solution.status == cp.SOLVER_ERROR:  # as CVXPY raises it, with Clarabel's reason
            raise cp.SolverError(f"Clarabel stopped: {solution.solver_status}")
        return solution.status, *solution.values


class BucketProblem(CompiledProblem):
    """The parametrized problem of one bucket shape."""

    def __init__(
        self,
        n: int,
        slots: int,
        n_classes: int,
        with_impact: bool,
        shift_limited: bool,
        sells_capped: bool,
        gains_budgeted: bool,
    ) -> None:
        self.key = (n, slots, n_classes, with_impact, shift_limited, sells_capped, gains_budgeted)
        shape = Layout(n, slots, n_classes, np.zeros(0, dtype=np.int64))
        p = {
            "holding": cp.Parameter(n, name="holding"),
            "target": cp.Parameter(n, name="target"),
            "sell_min": cp.Parameter(n * slots, name="sell_min"),
            "sell_max": cp.Parameter(n * slots, name="sell_max"),
            "buy_max": cp.Parameter(n, name="buy_max"),
            "class_indicator": cp.Parameter((n_classes, n), name="class_indicator"),
            "class_target": cp.Parameter(n_classes, name="class_target"),
            "band_min": cp.Parameter(n_classes, name="band_min"),
            "band_max": cp.Parameter(n_classes, name="band_max"),
            "cash": cp.Parameter(name="cash"),
            "band_price": cp.Parameter(name="band_price"),
        }
        buy = cp.Variable(n, nonneg=True)
        sell = cp.Variable(n * slots)  # bounded below by sell_min >= 0
        sold = sp.kron(sp.eye(n), np.ones((1, slots)), format="csr") @ sell
        variables = Variables(buy=buy, sell=sell, sold=sold, active=cp.Variable(n))
        self.terms = score_terms(with_impact)
        objective = 0
        cash_costs = 0
        constraints = [variables.active == p["holding"] - sold + buy - p["target"]]
        for term in self.terms:
            expression, own = term.build(variables, shape)
            objective = objective - (1 if term.is_benefit else -1) * expression
            if term.paid_in_cash:
                cash_costs = cash_costs + expression
            constraints += own
        shortfall = cp.Variable(n_classes, nonneg=True)
        excess = cp.Variable(n_classes, nonneg=True)
        class_weight = p["class_indicator"] @ variables.active + p["class_target"]
        constraints += [
            sell >= p["sell_min"],
            sell <= p["sell_max"],
            buy <= p["buy_max"],
            p["cash"] + cp.sum(sell) - cp.sum(buy) - cash_costs >= 0,
            class_weight >= p["band_min"] - shortfall,
            class_weight <= p["band_max"] + excess,
        ]
        if shift_limited:
            # mimicry of a human trader: little money moved from one asset class to another
            p["class_shift_max"] = cp.Parameter(nonneg=True, name="class_shift_max")
            moved_in = cp.sum(cp.pos(p["class_indicator"] @ (buy - sold)))
            constraints.append(moved_in <= p["class_shift_max"])
        if sells_capped:
            # raise_cash: no more sold than the due withdrawals need (account_rules.py)
            p["sell_cap"] = cp.Parameter(nonneg=True, name="sell_cap")
            constraints.append(cp.sum(sell) <= p["sell_cap"])
        overrun_price = 0
        if gains_budgeted:
            # net realized gains within the remaining budget, overrun at a high price
            p["lot_gain"] = cp.Parameter(n * slots, name="lot_gain")
            p["gain_room"] = cp.Parameter(name="gain_room")
            overrun = cp.Variable(nonneg=True)
            constraints.append(p["lot_gain"] @ sell <= p["gain_room"] + overrun)
            overrun_price = GAIN_OVERRUN_PRICE * overrun
        self.parameters = p
        self.buy, self.sell = buy, sell
        self.band_miss = p["band_price"] * cp.sum(shortfall + excess)
        self.problem = cp.Problem(
            cp.Minimize(objective + self.band_miss + overrun_price), constraints
        )

    def set_values(self, account: Account, policy: Policy) -> Layout:
        """Give every parameter the account's numbers (padding: bounds 0)."""
        place = layout(account.problem, self.key)
        values = [
            (term.parameters[name], value)
            for term in self.terms
            for name, value in term.values(account, place).items()
        ]
        constraints = constraint_values(account.problem, policy, place)
        values += [(self.parameters[name], value) for name, value in constraints.items()]
        save_parameters(values)
        return place


_BUCKETS: dict[BucketKey, BucketProblem] = {}


def bucket_problem(key: BucketKey) -> BucketProblem:
    """The compiled problem of this shape in this process (built on first use)."""
    if key not in _BUCKETS:
        _BUCKETS[key] = BucketProblem(*key)
    return _BUCKETS[key]


def constraint_values(
    problem: AccountProblem, policy: Policy, place: Layout
) -> dict[str, np.ndarray | float]:
    """The constraints' parameters: bounds per lot and security (the account's
    ``trade_rules`` included), cash, bands."""
    opt = policy.optimization
    value = problem.account_value
    rules = trade_rules(problem, policy)
    sell_max = np.where(rules.may_sell, problem.lot_market_values / value, 0.0)
    frozen = problem.frozen(policy.workflow.halt_mode)
    no_buy = problem.restricted | problem.buy_blocked | frozen | ~rules.may_buy
    classes = problem.factor_classes
    indicator = class_indicator(classes, problem.asset_classes)
    band_min, band_max = _class_bands(problem, classes)
    values = {
        "holding": place.securities(problem.quantities * problem.prices / value),
        "target": place.securities(problem.targets),
        "sell_min": place.lots(np.where(rules.must_sell, sell_max, 0.0)),
        "sell_max": place.lots(sell_max),
        "buy_max": place.securities(np.where(no_buy, 0.0, BUY_CAP)),
        "class_indicator": place.class_matrix(indicator),
        "class_target": place.class_vector(indicator @ problem.targets),
        "band_min": place.class_vector(band_min),
        "band_max": place.class_vector(band_max, fill=NO_BAND),
        "cash": rules.spendable_cash / value,
        "band_price": opt.band_violation_price,
    }
    if opt.max_cross_class_shift_pct is not None:
        values["class_shift_max"] = _class_shift_allowance(problem, opt.max_cross_class_shift_pct)
    if rules.sell_cap is not None:
        values["sell_cap"] = max(rules.sell_cap, 0.0) / value
    if gain_budgeted(problem):
        values["lot_gain"] = place.lots(problem.lot_gain_per_dollar)
        values["gain_room"] = problem.remaining_gain_budget_usd / value
    return values


def _class_shift_allowance(problem: AccountProblem, limit_pct: float) -> float:
    """Weight the trades may add to asset classes: the limit plus the idle cash (investing
    cash moves nothing between classes)."""
    idle_cash = max(problem.cash - problem.required_cash, 0.0) / problem.account_value
    return limit_pct / 100 + idle_cash


def _class_bands(
    problem: AccountProblem, classes: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Band per factor class; a class without a band may take any weight."""
    index = {c: i for i, c in enumerate(problem.band_classes)}
    low = [problem.band_min[index[c]] if c in index else 0.0 for c in classes]
    high = [problem.band_max[index[c]] if c in index else NO_BAND for c in classes]
    return np.array(low, dtype=np.float64), np.array(high, dtype=np.float64)


def solve_convex(
    problem: AccountProblem, policy: Policy, risk: FactorRisk | None = None
) -> ConvexSolution:
    """Solve the account's convex problem in its bucket's compiled problem (``risk``: the
    account's ``account_risk`` when the caller has it already).

    Raises the ``errors`` of an optimization that gives no proposal (infeasible, bad
    data, solver failure); nothing else is caught here.
    """
    if problem.account_value <= 0:
        if problem.cash >= problem.required_cash:  # nothing invested, the cash pays it all
            return ConvexSolution(
                buy_weights=np.zeros(len(problem.security_ids)),
                sell_weights=np.zeros(len(problem.lot_ids)),
                solver="none",
                solve_seconds=0.0,
                failures="",
            )
        raise Infeasible("due withdrawals exceed the account's total value")
    key = bucket_key(problem, policy)
    bucket = bucket_problem(key)
    risk = account_risk(problem, policy) if risk is None else risk
    place = bucket.set_values(Account(problem, policy, risk), policy)
    solution = bucket.solve(policy.optimization.solver, policy.optimization.fallback_solver)
    return dataclasses.replace(
        solution,
        buy_weights=solution.buy_weights[: len(problem.security_ids)],
        sell_weights=solution.sell_weights[place.lot_slot],
    )
