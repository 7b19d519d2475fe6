"""The convex problem, written once per bucket shape as a DPP-compliant CVXPY problem.

Accounts are padded up to bucket sizes (padding has bounds 0), so one compiled problem
serves every account of a bucket: only parameter values change between solves
(cvxportfolio's compile-once pattern). Everything is in weights of V = total value less
due withdrawals; the objective is in dollars / V.

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

from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.optimization.risk import account_risk, factor_classes
from rebalance_pipeline.policy import Policy

BucketKey = tuple[int, int, int, bool, bool]
NO_BAND = 1e3  # upper band of padded or unbanded classes
BUY_CAP = 1e2  # weight bound on a buy that is allowed


class InfeasibleError(Exception):
    """The constraints cannot all hold (e.g. a withdrawal larger than what can be sold)."""


class SolverFailure(Exception):
    """Neither the solver nor the fallback solver returned a usable solution."""


@dataclasses.dataclass(frozen=True)
class ConvexSolution:
    buy_weights: np.ndarray  # per universe security
    sell_weights: np.ndarray  # per lot
    solver: str
    solve_seconds: float  # in the solver calls, fallback included
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
    shift limited): the terms a policy leaves off are not in the compiled problem."""
    classes = len(factor_classes(problem))
    counts = np.bincount(problem.lot_security, minlength=1)
    with_impact = policy.optimization.market_impact_coefficient > 0
    return (
        bucket_size(len(problem.security_ids)),
        slot_size(int(counts.max())),
        max(4, math.ceil(classes / 4) * 4),
        with_impact,
        policy.optimization.max_cross_class_shift_pct is not None,
    )


def lot_slots(problem: AccountProblem, slots: int) -> np.ndarray:
    """Each lot's sell slot: its security's first slot plus its rank in that security."""
    order = np.argsort(problem.lot_security, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    first = np.searchsorted(problem.lot_security[order], problem.lot_security[order])
    rank[order] = np.arange(len(order)) - first
    return problem.lot_security * slots + rank


class BucketProblem:
    """The parametrized problem of one bucket shape."""

    def __init__(
        self, n: int, slots: int, n_classes: int, with_impact: bool, shift_limited: bool
    ) -> None:
        self.key = (n, slots, n_classes, with_impact, shift_limited)
        n_lots = n * slots
        lot_to_security = sp.kron(sp.eye(n), np.ones((1, slots)), format="csr")
        p = {
            "holding": cp.Parameter(n),
            "target": cp.Parameter(n),
            "sell_min": cp.Parameter(n_lots),
            "sell_max": cp.Parameter(n_lots),
            "buy_max": cp.Parameter(n),
            "exposure": cp.Parameter((n_classes, n)),
            "specific": cp.Parameter(n),
            "tax": cp.Parameter(n_lots),
            "quality": cp.Parameter(n),
            "class_indicator": cp.Parameter((n_classes, n)),
            "class_target": cp.Parameter(n_classes),
            "band_min": cp.Parameter(n_classes),
            "band_max": cp.Parameter(n_classes),
            "cash": cp.Parameter(),
            "cost_rate": cp.Parameter(),
            "band_price": cp.Parameter(),
        }
        buy = cp.Variable(n, nonneg=True)
        sell = cp.Variable(n_lots)  # bounded below by sell_min >= 0
        sold = lot_to_security @ sell  # per security
        active = cp.Variable(n)
        shortfall = cp.Variable(n_classes, nonneg=True)
        excess = cp.Variable(n_classes, nonneg=True)
        class_weight = p["class_indicator"] @ active + p["class_target"]
        traded = cp.sum(buy) + cp.sum(sell)
        costs = p["cost_rate"] * traded
        constraints = [active == p["holding"] - sold + buy - p["target"]]
        if with_impact:
            # the power term needs sells per security as a variable to stay DPP
            sold_variable = cp.Variable(n)
            constraints.append(sold_variable == sold)
            p["impact"] = cp.Parameter(n, nonneg=True)
            costs = costs + p["impact"] @ cp.power(buy + sold_variable, 1.5)
        risk = cp.sum_squares(p["exposure"] @ active) + cp.sum_squares(
            cp.multiply(p["specific"], active)
        )
        objective = (
            risk
            + costs
            + p["tax"] @ sell
            - p["quality"] @ buy
            + p["band_price"] * cp.sum(shortfall + excess)
        )
        constraints += [
            sell >= p["sell_min"],
            sell <= p["sell_max"],
            buy <= p["buy_max"],
            p["cash"] + cp.sum(sell) - cp.sum(buy) - costs >= 0,
            class_weight >= p["band_min"] - shortfall,
            class_weight <= p["band_max"] + excess,
        ]
        if shift_limited:
            # mimicry of a human trader: little money moved from one asset class to another
            p["class_shift_max"] = cp.Parameter(nonneg=True)
            moved_in = cp.sum(cp.pos(p["class_indicator"] @ (buy - sold)))
            constraints.append(moved_in <= p["class_shift_max"])
        self.parameters = p
        self.buy, self.sell = buy, sell
        self.problem = cp.Problem(cp.Minimize(objective), constraints)
        self.solves = 0

    def set_values(self, values: dict[str, np.ndarray | float]) -> None:
        """Set every parameter; checks shape and finiteness itself and then stores the
        value directly (cvxpy's own per-assignment validation costs about a fifth of a
        re-solve, and these parameters carry no sign or structure attributes to check
        except ``impact``, which is non-negative by construction)."""
        for name, value in values.items():
            parameter = self.parameters[name]
            array = np.asarray(value, dtype=np.float64)
            if array.shape != parameter.shape or not np.isfinite(array).all():
                raise ValueError(f"parameter {name}: shape {array.shape} or non-finite values")
            parameter.save_value(array)

    def solve(self, solver: str, fallback: str) -> ConvexSolution:
        """Solve with ``solver``, then ``fallback`` when the first fails or is unsure."""
        failures = []
        start = time.perf_counter()
        for name in dict.fromkeys([solver, fallback]):
            try:
                self.problem.solve(solver=name)
            except cp.SolverError as error:
                failures.append(f"{name}: {error}".strip())
                continue
            finally:
                self.solves += 1
            status = self.problem.status
            if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
                raise InfeasibleError(f"{name}: {status}")
            if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and self.buy.value is not None:
                return ConvexSolution(
                    buy_weights=np.clip(self.buy.value, 0.0, None),
                    sell_weights=np.clip(self.sell.value, 0.0, None),
                    solver=name,
                    solve_seconds=time.perf_counter() - start,
                    failures="; ".join(failures),
                )
            failures.append(f"{name}: {status}")
        raise SolverFailure("; ".join(failures))


_BUCKETS: dict[BucketKey, BucketProblem] = {}


def bucket_problem(key: BucketKey) -> BucketProblem:
    """The compiled problem of this shape in this process (built on first use)."""
    if key not in _BUCKETS:
        _BUCKETS[key] = BucketProblem(*key)
    return _BUCKETS[key]


def parameter_values(
    problem: AccountProblem, policy: Policy, key: BucketKey
) -> dict[str, np.ndarray | float]:
    """The account's numbers, padded to the bucket shape (padding: bounds 0)."""
    n, slots, n_classes, *_ = key
    slot = lot_slots(problem, slots)

    def per_slot(values: np.ndarray) -> np.ndarray:
        out = np.zeros(n * slots)
        out[slot] = values
        return out

    opt = policy.optimization
    value = problem.account_value
    frozen = problem.halted & (policy.workflow.halt_mode == "freeze_security")
    lot_frozen = frozen[problem.lot_security]
    lot_weight = problem.lot_market_values / value
    sell_max = np.where(problem.lot_loss_sale_blocked | lot_frozen, 0.0, lot_weight)
    must_sell = problem.restricted[problem.lot_security] & ~lot_frozen
    no_buy = problem.restricted | problem.buy_blocked | frozen
    risk = account_risk(problem, policy)
    scale = math.sqrt(opt.active_variance_price)
    classes = factor_classes(problem)
    indicator = np.array([[c == a for a in problem.asset_classes] for c in classes], float)
    band_min, band_max = _class_bands(problem, classes)
    tax = opt.tax_weight * problem.lot_tax_rates() * problem.lot_gain_per_dollar()
    values = {
        "holding": _pad(problem.quantities * problem.prices / value, n),
        "target": _pad(problem.targets, n),
        "sell_min": per_slot(np.where(must_sell, sell_max, 0.0)),
        "sell_max": per_slot(sell_max),
        "buy_max": _pad(np.where(no_buy, 0.0, BUY_CAP), n),
        "exposure": _pad2(scale * risk.exposure, n_classes, n),
        "specific": _pad(scale * risk.specific, n),
        "tax": per_slot(tax),
        "quality": _pad(problem.quality_per_dollar(opt.quality_bonus_bps_per_rating), n),
        "class_indicator": _pad2(indicator, n_classes, n),
        "class_target": _pad(indicator @ problem.targets, n_classes),
        "band_min": _pad(band_min, n_classes),
        "band_max": _pad(band_max, n_classes, fill=NO_BAND),
        "cash": (problem.cash - problem.required_cash) / value,
        "cost_rate": opt.transaction_cost_bps * 1e-4,
        "band_price": opt.band_violation_price,
    }
    if opt.max_cross_class_shift_pct is not None:
        values["class_shift_max"] = _class_shift_allowance(problem, opt.max_cross_class_shift_pct)
    if opt.market_impact_coefficient > 0:
        daily_vol = risk.security_vols() / math.sqrt(252.0)
        values["impact"] = _pad(opt.market_impact_coefficient * daily_vol, n)
    return values


def _class_shift_allowance(problem: AccountProblem, limit_pct: float) -> float:
    """Weight the trades may add to asset classes: the limit plus the idle cash (investing
    cash moves nothing between classes)."""
    idle_cash = max(problem.cash - problem.required_cash, 0.0) / problem.account_value
    return limit_pct / 100 + idle_cash


def _class_bands(problem: AccountProblem, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Band per factor class; a class without a band may take any weight."""
    index = {c: i for i, c in enumerate(problem.band_classes)}
    low = [problem.band_min[index[c]] if c in index else 0.0 for c in classes]
    high = [problem.band_max[index[c]] if c in index else NO_BAND for c in classes]
    return np.array(low, dtype=np.float64), np.array(high, dtype=np.float64)


def _pad(values: np.ndarray, size: int, fill: float = 0.0) -> np.ndarray:
    out = np.full(size, fill, dtype=np.float64)
    out[: len(values)] = values
    return out


def _pad2(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols))
    out[: values.shape[0], : values.shape[1]] = values
    return out


def solve_convex(problem: AccountProblem, policy: Policy) -> ConvexSolution:
    """Solve the account's convex problem in its bucket's compiled problem."""
    if problem.account_value <= 0:
        if problem.cash >= problem.required_cash:  # nothing invested, the cash pays it all
            return ConvexSolution(
                buy_weights=np.zeros(len(problem.security_ids)),
                sell_weights=np.zeros(len(problem.lot_ids)),
                solver="none",
                solve_seconds=0.0,
                failures="",
            )
        raise InfeasibleError("due withdrawals exceed the account's total value")
    key = bucket_key(problem, policy)
    bucket = bucket_problem(key)
    bucket.set_values(parameter_values(problem, policy, key))
    solution = bucket.solve(policy.optimization.solver, policy.optimization.fallback_solver)
    return dataclasses.replace(
        solution,
        buy_weights=solution.buy_weights[: len(problem.security_ids)],
        sell_weights=solution.sell_weights[lot_slots(problem, key[1])],
    )
