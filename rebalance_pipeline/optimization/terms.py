"""The terms of the cost/benefit score, one object each (after cvxportfolio's costs.py).

A term owns its parameters: ``build`` writes its CVXPY expression once per compiled
problem, ``values`` gives its parameters one account's numbers, and ``dollars``
evaluates the same quantity on trades. The optimizer minimizes −Σ ±weight × term and
the score is Σ ±weight × term (benefits +, costs −) over the same objects, so the
solver and the score cannot drift apart. Expressions are weighted dollars per dollar of
V, the account's value less its due withdrawals; ``dollars`` are unweighted.

A new term is one class and one line in ``SCORE_TERMS``.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from rebalance_pipeline.optimization.errors import DataError
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.optimization.risk import FactorRisk
from rebalance_pipeline.policy import Policy

if TYPE_CHECKING:
    import cvxpy as cp

TRADING_DAYS = 252.0


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where one account's numbers sit in a compiled problem: ``n`` security slots,
    ``slots`` lot slots per security (``lot_slot`` of each lot) and ``classes`` factor
    rows; padding is zero unless a fill is given."""

    n: int
    slots: int
    classes: int
    lot_slot: np.ndarray

    def securities(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        return _padded(values, self.n, fill)

    def lots(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n * self.slots)
        out[self.lot_slot] = values
        return out

    def class_vector(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        return _padded(values, self.classes, fill)

    def class_matrix(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros((self.classes, self.n))
        out[: values.shape[0], : values.shape[1]] = values
        return out


def _padded(values: np.ndarray, size: int, fill: float) -> np.ndarray:
    out = np.empty(size)
    out[: len(values)] = values
    out[len(values) :] = fill
    return out


@dataclasses.dataclass(frozen=True)
class Variables:
    """The decision variables in weights of V: buys per security, sells per lot slot,
    and the active weights after the trades (holding − sold + bought − target)."""

    buy: cp.Variable
    sell: cp.Variable
    sold: cp.Expression  # sells per security
    active: cp.Variable


@dataclasses.dataclass(frozen=True)
class Account:
    """What the terms read of one account besides its trades."""

    problem: AccountProblem
    policy: Policy
    risk: FactorRisk

    @property
    def value(self) -> float:
        return self.problem.account_value

    def weights(self, dollars: np.ndarray) -> np.ndarray:
        """Dollars as weights of V (none when nothing is left to invest)."""
        return dollars / self.value if self.value > 0 else np.zeros_like(dollars)

    def active_before(self) -> np.ndarray:
        p = self.problem
        return self.weights(p.quantities * p.prices) - p.targets

    @functools.cached_property
    def variance_before(self) -> float:
        """The active variance before any trade (the solve's and the score's)."""
        return self.risk.variance(self.active_before())


@dataclasses.dataclass(frozen=True)
class Trades:
    """Trades in dollars: bought per universe security, sold per lot."""

    bought: np.ndarray
    sold_by_lot: np.ndarray

    def sold(self, problem: AccountProblem) -> np.ndarray:
        return np.bincount(problem.lot_security, self.sold_by_lot, len(problem.security_ids))

    def traded(self, problem: AccountProblem) -> np.ndarray:
        return self.bought + self.sold(problem)

    def active_after(self, account: Account) -> np.ndarray:
        p = account.problem
        held = p.quantities * p.prices - self.sold(p) + self.bought
        return account.weights(held) - p.targets


class Term(abc.ABC):
    """One part of the score, in dollars (see the module docstring)."""

    column: ClassVar[str]  # the OPTIMIZATION_RESULTS column of its dollars
    is_benefit: ClassVar[bool]
    paid_in_cash: ClassVar[bool] = False  # a cost the account's cash pays when it trades
    is_market_impact: ClassVar[bool] = False  # left out when the policy prices no impact

    def __init__(self) -> None:
        self.parameters: dict[str, cp.Parameter] = {}

    def weight(self, policy: Policy) -> float:
        """The policy's weight on the term in the score (and so in the objective)."""
        return 1.0

    def signed_weight(self, policy: Policy) -> float:
        return self.weight(policy) if self.is_benefit else -self.weight(policy)

    @abc.abstractmethod
    def build(self, variables: Variables, layout: Layout) -> tuple[cp.Expression, list]:
        """Its weighted dollars per V as an expression, and any constraint it needs."""

    @abc.abstractmethod
    def values(self, account: Account, layout: Layout) -> dict[str, np.ndarray | float]:
        """Its parameters' values for one account, by parameter name."""

    @abc.abstractmethod
    def dollars(self, account: Account, trades: Trades) -> float:
        """Its unweighted value in dollars for these trades."""

    def parameter(self, name: str, shape: tuple[int, ...] = (), **attributes) -> cp.Parameter:
        import cvxpy as cp

        self.parameters[name] = cp.Parameter(shape, name=name, **attributes)
        return self.parameters[name]


def save_parameters(values: list[tuple[cp.Parameter, np.ndarray | float]]) -> None:
    """Give each parameter its value. Checks every shape and, over all the values at once,
    finiteness, and stores them directly (cvxpy's per-assignment validation costs about a
    fifth of a re-solve)."""
    parameters = [parameter for parameter, _ in values]
    arrays = [np.asarray(value, dtype=np.float64) for _, value in values]
    finite = np.isfinite(np.concatenate([array.ravel() for array in arrays])).all()
    if not finite or [p.shape for p in parameters] != [a.shape for a in arrays]:
        parameter, array = next(
            (parameter, array)
            for parameter, array in zip(parameters, arrays, strict=True)
            if array.shape != parameter.shape or not np.isfinite(array).all()
        )
        raise DataError(f"parameter {parameter.name()}: shape {array.shape} or non-finite values")
    for parameter, array in zip(parameters, arrays, strict=True):
        parameter.save_value(array)


class TrackingError(Term):
    """Benefit of the risk removed: active variance price × V × (before − after)."""

    column = "benefit_risk_usd"
    is_benefit = True

    def build(self, variables: Variables, layout: Layout) -> tuple[cp.Expression, list]:
        import cvxpy as cp

        exposure = self.parameter("exposure", (layout.classes, layout.n))
        specific = self.parameter("specific", (layout.n,))
        before = self.parameter("priced_variance_before")
        after = cp.sum_squares(exposure @ variables.active) + cp.sum_squares(
            cp.multiply(specific, variables.active)
        )
        return before - after, []

    def values(self, account: Account, layout: Layout) -> dict[str, np.ndarray | float]:
        price = account.policy.optimization.active_variance_price
        scale = math.sqrt(price)
        return {
            "exposure": layout.class_matrix(scale * account.risk.exposure),
            "specific": layout.securities(scale * account.risk.specific),
            "priced_variance_before": price * account.variance_before,
        }

    def dollars(self, account: Account, trades: Trades) -> float:
        before = account.variance_before
        after = account.risk.variance(trades.active_after(account))
        return account.policy.optimization.active_variance_price * account.value * (before - after)


class TransactionCost(Term):
    """The linear cost of trading: the policy's bps of every dollar bought or sold."""

    column = "cost_transaction_usd"
    is_benefit = False
    paid_in_cash = True

    def build(self, variables: Variables, layout: Layout) -> tuple[cp.Expression, list]:
        import cvxpy as cp

        rate = self.parameter("cost_rate")
        return rate * (cp.sum(variables.buy) + cp.sum(variables.sell)), []

    def values(self, account: Account, layout: Layout) -> dict[str, np.ndarray | float]:
        return {"cost_rate": cost_rate(account.policy)}

    def dollars(self, account: Account, trades: Trades) -> float:
        traded = float(trades.bought.sum() + trades.sold_by_lot.sum())
        return cost_rate(account.policy) * traded


class MarketImpact(Term):
    """coefficient × daily vol × order^{3/2} / sqrt(daily dollar volume) per security
    (Boyd et al. 2017); a security without a known volume has none (the problem notes it)."""

    column = "cost_market_impact_usd"
    is_benefit = False
    paid_in_cash = True
    is_market_impact = True

    def build(self, variables: Variables, layout: Layout) -> tuple[cp.Expression, list]:
        import cvxpy as cp

        impact = self.parameter("impact", (layout.n,), nonneg=True)
        # the power needs the sells per security as a variable to stay DPP
        sold = cp.Variable(layout.n)
        expression = impact @ cp.power(variables.buy + sold, 1.5)
        return expression, [sold == variables.sold]

    def values(self, account: Account, layout: Layout) -> dict[str, np.ndarray | float]:
        per_dollar = self._per_dollar_to_the_three_halves(account)
        return {"impact": layout.securities(per_dollar * math.sqrt(max(account.value, 0.0)))}

    def dollars(self, account: Account, trades: Trades) -> float:
        per_dollar = self._per_dollar_to_the_three_halves(account)
        return float(per_dollar @ trades.traded(account.problem) ** 1.5)

    @staticmethod
    def _per_dollar_to_the_three_halves(account: Account) -> np.ndarray:
        p = account.problem
        daily_vol = account.risk.security_vols() / math.sqrt(TRADING_DAYS)
        dollar_volume = p.volumes * p.prices
        known = np.isfinite(dollar_volume) & (dollar_volume > 0)
        root = np.sqrt(np.where(known, dollar_volume, 1.0))
        coefficient = account.policy.optimization.market_impact_coefficient
        return np.where(known, coefficient * daily_vol / root, 0.0)


class _TaxTerm(Term):
    """Tax on the gain (or loss) of each lot sold, at the account's rate for the lot."""

    is_benefit: ClassVar[bool]
    sign: ClassVar[float]  # +1: gains taxed; −1: losses harvested

    def weight(self, policy: Policy) -> float:
        return policy.optimization.tax_weight

    def build(self, variables: Variables, layout: Layout) -> tuple[cp.Expression, list]:
        rates = self.parameter("per_dollar_sold", (layout.n * layout.slots,))
        return rates @ variables.sell, []

    def values(self, account: Account, layout: Layout) -> dict[str, np.ndarray | float]:
        weighted = self.weight(account.policy) * self._per_dollar_sold(account.problem)
        return {"per_dollar_sold": layout.lots(weighted)}

    def dollars(self, account: Account, trades: Trades) -> float:
        return float(self._per_dollar_sold(account.problem) @ trades.sold_by_lot)

    def _per_dollar_sold(self, problem: AccountProblem) -> np.ndarray:
        taxed = self.sign * problem.lot_gain_per_dollar
        return problem.lot_tax_rates * np.maximum(taxed, 0.0)


class TaxOnGains(_TaxTerm):
    column = "cost_tax_usd"
    is_benefit = False
    sign = 1.0


class HarvestedLosses(_TaxTerm):
    """A loss's value at the account's rate (a policy simplification, see the README)."""

    column = "benefit_tax_loss_usd"
    is_benefit = True
    sign = -1.0


class Quality(Term):
    """The policy's bonus per dollar bought for each rating step above 3."""

    column = "benefit_quality_usd"
    is_benefit = True

    def build(self, variables: Variables, layout: Layout) -> tuple[cp.Expression, list]:
        bonus = self.parameter("bonus_per_dollar", (layout.n,))
        return bonus @ variables.buy, []

    def values(self, account: Account, layout: Layout) -> dict[str, np.ndarray | float]:
        return {"bonus_per_dollar": layout.securities(self._per_dollar(account))}

    def dollars(self, account: Account, trades: Trades) -> float:
        return float(self._per_dollar(account) @ trades.bought)

    @staticmethod
    def _per_dollar(account: Account) -> np.ndarray:
        bps = account.policy.optimization.quality_bonus_bps_per_rating
        return bps * 1e-4 * (account.problem.ratings - 3.0)


class TransitionProgress(Term):
    """The policy's value per dollar sold of a holding outside the model (target 0) in an
    account in transition: the firm decided to move it to its model, so within its gain
    budget (account_rules) the transition goes as far as the budget allows. Where the
    budget binds the problem sells first what uses least of it: losses (which add to it),
    then the lots of least gain per dollar."""

    column = "benefit_transition_usd"
    is_benefit = True

    def build(self, variables: Variables, layout: Layout) -> tuple[cp.Expression, list]:
        value = self.parameter("transition_value_per_dollar_sold", (layout.n * layout.slots,))
        return value @ variables.sell, []

    def values(self, account: Account, layout: Layout) -> dict[str, np.ndarray | float]:
        return {"transition_value_per_dollar_sold": layout.lots(self._per_dollar_sold(account))}

    def dollars(self, account: Account, trades: Trades) -> float:
        return float(self._per_dollar_sold(account) @ trades.sold_by_lot)

    @staticmethod
    def _per_dollar_sold(account: Account) -> np.ndarray:
        p = account.problem
        if not p.in_transition:  # nothing (most accounts, so without the arrays' work)
            return np.zeros(len(p.lot_ids))
        outside_model = p.targets[p.lot_security] == 0
        value = account.policy.optimization.transition_value_per_dollar
        return np.where(outside_model, value, 0.0)


# every term of the score, in the order of the result columns
SCORE_TERMS: tuple[type[Term], ...] = (
    TrackingError,
    HarvestedLosses,
    Quality,
    TransitionProgress,
    TransactionCost,
    MarketImpact,
    TaxOnGains,
)


def score_terms(with_impact: bool) -> list[Term]:
    """A fresh object of every term of the score (market impact only ``with_impact``)."""
    return [term() for term in SCORE_TERMS if with_impact or not term.is_market_impact]


SCORE_COLUMNS = [term.column for term in score_terms(with_impact=True)]


def cost_rate(policy: Policy) -> float:
    """The linear transaction cost per dollar traded."""
    return policy.optimization.transaction_cost_bps * 1e-4
