"""Household asset location: the accounts of a household optimized as one problem.

Under the firm option ``optimization.household_asset_location``, a household whose
accounts share a household target is solved as ONE convex problem. The household target
is the model its accounts follow: accounts share it when they all have the same universe
and the same targets (the same model on the date), so the household's combined holdings
should carry the model's weights of the household's value H = Σ V (each account's value
less its due withdrawals). Everything is in weights of H:

- risk (the score's tracking-error term) is priced on the combined active weights: an
  account may hold only bonds if another holds the household's equities;
- each account keeps its own lots, bounds and rules (``convex.constraint_values``: its
  rebalance type, deferrals, restrictions), and its own cash constraint, so its due cash
  requests are met from its own cash and sales;
- taxes on gains and harvested losses count at each account's own rates: zero outside
  taxable accounts, so gains are realized where they are taxed least;
- asset location: a dollar of a class in ``optimization.asset_location_bps`` (bonds by
  default) held in a taxable account costs that many bps, the yearly tax drag of its
  income there (nothing in a tax-deferred account). The term is in the score too
  (``benefit_location_usd``): without it a move that only relocates bonds — the combined
  allocation unchanged — would score below doing nothing and never be traded;
- the model's asset-class bands bound the combined weights, not each account's (an account
  alone may hold only bonds).

The household's solution splits back into each account's trades (whole shares per account,
``heuristic.whole_shares``) and result rows, so routing, compliance, export and explain
see ordinary accounts. The household trades as one decision, so every score column of an
account (each term and the score) is its share V / H of the household's: the accounts'
columns sum to the household's, and every account of the household has the same score in
bps, so accounts of one account group and trade history clear the threshold together.
The tracking errors reported are the household's, and the solver seconds an equal share
of its solve; realized gains, turnover, cash and trade counts are the account's own.
When the household's score is below doing nothing and no account has a mandate, no
account trades. Routing still decides per account: an account with a due mandate
trades even where another account of its household stays under its own threshold
(another group, a recent trade).

Wash sales across the household as in ``shards.py``: buys of groups a taxable account of
the household will likely harvest are blocked in every account before the solve, and buys
of a group a taxable account then does sell at a loss are dropped.

Not householded (each account solved alone as without the option): households of one
account, accounts of different universes or targets, an account without value to invest,
a gain budget, a transition or a rebalance type other than ``normal``, a policy that prices market
impact or limits the cross-class shift, and a date whose trigger would not trade every
account of the household. The problem is compiled once per household shape (accounts ×
securities bucket × lot slots × factor classes) and solved like a bucket problem.
"""

from __future__ import annotations

import dataclasses

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from rebalance_pipeline.optimization import shards
from rebalance_pipeline.optimization.account_rules import gain_budgeted
from rebalance_pipeline.optimization.convex import (
    CompiledProblem,
    bucket_size,
    constraint_values,
    layout,
    slot_size,
)
from rebalance_pipeline.optimization.errors import OptimizationError
from rebalance_pipeline.optimization.heuristic import ShareTrades, no_trades, whole_shares
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.optimization.risk import FactorRisk, account_risk
from rebalance_pipeline.optimization.score import score_trades
from rebalance_pipeline.optimization.terms import SCORE_COLUMNS, Layout, cost_rate, save_parameters
from rebalance_pipeline.policy import Policy

HouseholdKey = tuple[int, int, int, int]  # accounts, securities, lot slots, factor classes

# the constraint_values scaled from an account's weights to the household's
_PER_ACCOUNT_VALUE = ("holding", "sell_min", "sell_max")
# per account parameters of the household problem's own terms
_HOUSEHOLD_TERMS = ("tax_per_dollar_sold", "location_per_dollar")


def householded(problems: list[AccountProblem], policy: Policy) -> bool:
    """Whether these accounts (one household's) are solved as one problem (module doc)."""
    opt = policy.optimization
    if not opt.household_asset_location or len(problems) < 2:
        return False
    if opt.market_impact_coefficient > 0 or opt.max_cross_class_shift_pct is not None:
        return False
    first = problems[0]
    return bool(first.security_ids) and all(
        p.security_ids == first.security_ids
        and np.array_equal(p.targets, first.targets)
        and p.band_classes == first.band_classes
        and p.account_value > 0
        and p.rebalance_type == "normal"
        and not gain_budgeted(p)
        and not p.in_transition
        and shards.needs_proposal(p, policy)
        for p in problems
    )


def household_key(problems: list[AccountProblem]) -> HouseholdKey:
    first = problems[0]
    slots = max(slot_size(int(np.bincount(p.lot_security, minlength=1).max())) for p in problems)
    classes = len(first.factor_classes)
    n_classes = max(4, -(-classes // 4) * 4)
    return (len(problems), bucket_size(len(first.security_ids)), slots, n_classes)


class HouseholdProblem(CompiledProblem):
    """The parametrized problem of one household shape: ``accounts`` blocks of ``n``
    securities and ``n × slots`` lot slots, laid out as a single account's bucket."""

    def __init__(self, accounts: int, n: int, slots: int, n_classes: int) -> None:
        self.key = (accounts, n, slots, n_classes)
        lots = n * slots
        shapes = {
            "holding": accounts * n,
            "sell_min": accounts * lots,
            "sell_max": accounts * lots,
            "buy_max": accounts * n,
            "cash": accounts,
            "tax_per_dollar_sold": accounts * lots,
            "location_per_dollar": accounts * n,
            "target": n,
            "exposure": (n_classes, n),
            "specific": n,
            "priced_variance_before": (),
            "bonus_per_dollar": n,
            "class_indicator": (n_classes, n),
            "class_target": n_classes,
            "band_min": n_classes,
            "band_max": n_classes,
            "band_price": (),
        }
        p = {name: cp.Parameter(shape, name=name) for name, shape in shapes.items()}
        p["cost_rate"] = cp.Parameter(nonneg=True, name="cost_rate")
        buy = cp.Variable(accounts * n, nonneg=True)
        sell = cp.Variable(accounts * lots)
        sold = sp.kron(sp.eye(accounts * n), np.ones((1, slots)), format="csr") @ sell
        traded_in = sp.kron(sp.eye(accounts), np.ones((1, n)), format="csr")  # per account
        sold_in = sp.kron(sp.eye(accounts), np.ones((1, lots)), format="csr")
        combined = sp.kron(np.ones((1, accounts)), sp.eye(n), format="csr")
        active = cp.Variable(n)
        change = buy - sold
        risk_after = cp.sum_squares(p["exposure"] @ active) + cp.sum_squares(
            cp.multiply(p["specific"], active)
        )
        account_costs = p["cost_rate"] * (traded_in @ buy + sold_in @ sell)
        shortfall = cp.Variable(n_classes, nonneg=True)
        excess = cp.Variable(n_classes, nonneg=True)
        class_weight = p["class_indicator"] @ active + p["class_target"]
        objective = (
            risk_after
            - p["priced_variance_before"]
            + cp.sum(account_costs)
            + p["tax_per_dollar_sold"] @ sell
            - p["bonus_per_dollar"] @ (combined @ buy)
            + p["location_per_dollar"] @ change
            + p["band_price"] * cp.sum(shortfall + excess)
        )
        constraints = [
            active == combined @ (p["holding"] + change) - p["target"],
            sell >= p["sell_min"],
            sell <= p["sell_max"],
            buy <= p["buy_max"],
            p["cash"] + sold_in @ sell - traded_in @ buy - account_costs >= 0,
            class_weight >= p["band_min"] - shortfall,
            class_weight <= p["band_max"] + excess,
        ]
        self.parameters = p
        self.buy, self.sell = buy, sell
        self.problem = cp.Problem(cp.Minimize(objective), constraints)

    def set_values(self, household: Household, policy: Policy) -> None:
        values = household.parameter_values(self.key, policy)
        save_parameters([(self.parameters[name], value) for name, value in values.items()])


@dataclasses.dataclass(frozen=True)
class Household:
    """The accounts solved together, in solving order, and the household's risk model."""

    problems: list[AccountProblem]
    risk: FactorRisk

    @property
    def value(self) -> float:
        """H: the accounts' values less their due withdrawals."""
        return sum(p.account_value for p in self.problems)

    def shares(self) -> np.ndarray:
        return np.array([p.account_value for p in self.problems]) / self.value

    def combined_active(self, held_by_account: list[np.ndarray]) -> np.ndarray:
        """Active weights of the household's combined dollars per security."""
        return sum(held_by_account) / self.value - self.problems[0].targets

    def places(self, key: HouseholdKey) -> list[Layout]:
        return [layout(p, key[1:]) for p in self.problems]

    def parameter_values(self, key: HouseholdKey, policy: Policy) -> dict:
        """Each account's bounds in weights of H, stacked, and the household's own."""
        opt = policy.optimization
        places = self.places(key)
        stacked: dict[str, list] = {}
        for problem, place, share in zip(self.problems, places, self.shares(), strict=True):
            values = constraint_values(problem, policy, place)
            for name in _PER_ACCOUNT_VALUE:
                values[name] = values[name] * share
            values["cash"] = np.array([values["cash"] * share])
            values["tax_per_dollar_sold"] = place.lots(tax_per_dollar_sold(problem, policy))
            values["location_per_dollar"] = place.securities(location_per_dollar(problem, policy))
            for name in (*_PER_ACCOUNT_VALUE, "buy_max", "cash", *_HOUSEHOLD_TERMS):
                stacked.setdefault(name, []).append(values[name])
        first, place = self.problems[0], places[0]
        shared = constraint_values(first, policy, place)
        scale = np.sqrt(opt.active_variance_price)
        before = self.combined_active([p.quantities * p.prices for p in self.problems])
        return {name: np.concatenate(parts) for name, parts in stacked.items()} | {
            "target": place.securities(first.targets),
            "exposure": place.class_matrix(scale * self.risk.exposure),
            "specific": place.securities(scale * self.risk.specific),
            "priced_variance_before": opt.active_variance_price * self.risk.variance(before),
            "bonus_per_dollar": place.securities(
                first.quality_per_dollar(opt.quality_bonus_bps_per_rating)
            ),
            "cost_rate": cost_rate(policy),
            **{
                name: shared[name]
                for name in ("class_indicator", "class_target", "band_min", "band_max")
            },
            "band_price": opt.band_violation_price,
        }


def tax_per_dollar_sold(problem: AccountProblem, policy: Policy) -> np.ndarray:
    """Weighted tax on a lot's gain, less the weighted value of its loss, per dollar sold
    (the score's two tax terms together; zero outside taxable accounts)."""
    return policy.optimization.tax_weight * problem.lot_tax_rates * problem.lot_gain_per_dollar


def location_per_dollar(problem: AccountProblem, policy: Policy) -> np.ndarray:
    """The asset-location cost of a dollar held in each security: the policy's bps of its
    class in a taxable account, nothing elsewhere."""
    if not problem.is_taxable:
        return np.zeros(len(problem.security_ids))
    bps = policy.optimization.asset_location_bps
    return np.array([bps.get(c, 0.0) * 1e-4 for c in problem.asset_classes])


_HOUSEHOLDS: dict[HouseholdKey, HouseholdProblem] = {}


def household_problem(key: HouseholdKey) -> HouseholdProblem:
    """The compiled problem of this household shape in this process (built on first use)."""
    if key not in _HOUSEHOLDS:
        _HOUSEHOLDS[key] = HouseholdProblem(*key)
    return _HOUSEHOLDS[key]


@dataclasses.dataclass(frozen=True)
class HouseholdTrades:
    trades: list[ShareTrades]  # per account, in the household's order
    solve_seconds: float
    notes: list[str]


def solve_household_trades(household: Household, policy: Policy) -> HouseholdTrades:
    """Whole-share trades of every account from one solve of the household's problem.
    Raises the ``errors`` of an optimization that gives no proposal."""
    key = household_key(household.problems)
    compiled = household_problem(key)
    compiled.set_values(household, policy)
    opt = policy.optimization
    solution = compiled.solve(opt.solver, opt.fallback_solver)
    notes = [f"solved by {solution.solver} after {solution.failures}"] if solution.failures else []
    n, lots = key[1], key[1] * key[2]
    trades = []
    for index, (problem, place) in enumerate(
        zip(household.problems, household.places(key), strict=True)
    ):
        to_account = household.value / problem.account_value
        buys = solution.buy_weights[index * n : index * n + len(problem.security_ids)]
        sells = solution.sell_weights[index * lots : (index + 1) * lots][place.lot_slot]
        trades.append(whole_shares(problem, buys * to_account, sells * to_account, policy))
    return HouseholdTrades(trades, solution.solve_seconds, notes)


def household_scores(household: Household, trades: list[ShareTrades], policy: Policy) -> list:
    """Each account's score columns: its share (V / H) of the household's score and of
    each of its terms; the household's tracking errors; its own gains, turnover and cash."""
    opt = policy.optimization
    held_before = [p.quantities * p.prices for p in household.problems]
    held_after = [
        held + (t.buy_shares - _sold_shares(p, t)) * p.prices
        for p, t, held in zip(household.problems, trades, held_before, strict=True)
    ]
    variance_before = household.risk.variance(household.combined_active(held_before))
    variance_after = household.risk.variance(household.combined_active(held_after))
    rows = []
    for problem, before, after, traded in zip(
        household.problems, held_before, held_after, trades, strict=True
    ):
        scores = score_trades(problem, traded, account_risk(problem, policy), policy)
        location = float(location_per_dollar(problem, policy) @ (before - after))
        # the account's own risk counts nothing: the household's replaces it below
        scores["score_usd"] += location - scores["benefit_risk_usd"]
        scores["benefit_risk_usd"] = 0.0
        scores["benefit_location_usd"] = location
        rows.append(scores)
    shared = [c for c in (*SCORE_COLUMNS, "benefit_location_usd", "score_usd") if c in rows[0]]
    totals = {column: sum(row[column] for row in rows) for column in shared}
    risk_benefit = opt.active_variance_price * household.value * (variance_before - variance_after)
    totals["benefit_risk_usd"] += risk_benefit
    totals["score_usd"] += risk_benefit
    for row, share, problem in zip(rows, household.shares(), household.problems, strict=True):
        row.update({column: share * total for column, total in totals.items()})
        row["score_bps"] = row["score_usd"] / problem.account_value * 1e4
        row["tracking_error_before"] = float(np.sqrt(max(variance_before, 0.0)))
        row["tracking_error_after"] = float(np.sqrt(max(variance_after, 0.0)))
    return rows


def _sold_shares(problem: AccountProblem, trades: ShareTrades) -> np.ndarray:
    return np.bincount(problem.lot_security, trades.sell_shares, len(problem.security_ids))


def solve_household(problems: list[AccountProblem], policy: Policy) -> list:
    """The outcomes (``shards.AccountOutcome``) of a householded household's accounts, in
    solving order."""
    problems = sorted(problems, key=shards.household_order)
    likely = set().union(*(shards.likely_harvests(p, policy) for p in problems))
    problems = [p.with_blocks(likely, set()) for p in problems]
    household = Household(problems, account_risk(problems[0], policy))
    joined = f"optimized with household {problems[0].household_id} (asset location)"
    try:
        solved = solve_household_trades(household, policy)
    except OptimizationError as error:
        return [
            shards.outcome(p, no_trades(p), policy, error.status, [joined, str(error)], 0.0)
            for p in problems
        ]
    trades, notes = _without_washed_buys(problems, solved.trades)
    rows = household_scores(household, trades, policy)
    notes = [joined, *solved.notes, *notes]
    if sum(r["score_usd"] for r in rows) < 0 and not any(p.mandates for p in problems):
        total = sum(r["score_usd"] for r in rows)
        notes.append(f"the household's proposal scored ${total:,.2f}, below doing nothing")
        trades = [no_trades(p) for p in problems]
        rows = household_scores(household, trades, policy)
    seconds = solved.solve_seconds / len(problems)
    return [
        shards.outcome(p, t, policy, "optimal", list(notes), seconds, row)
        for p, t, row in zip(problems, trades, rows, strict=True)
    ]


def _without_washed_buys(
    problems: list[AccountProblem], trades: list[ShareTrades]
) -> tuple[list[ShareTrades], list[str]]:
    """The trades less buys, in any account, of groups a taxable account sells at a loss."""
    loss_sales = set().union(
        *(shards.loss_sale_groups(p, t) for p, t in zip(problems, trades, strict=True))
    )
    bought = set().union(
        *(shards.bought_groups(p, t) for p, t in zip(problems, trades, strict=True))
    )
    washed = loss_sales & bought
    if not washed:
        return trades, []
    kept = [shards.without_buys_of(p, t, washed) for p, t in zip(problems, trades, strict=True)]
    return kept, [f"dropped buys of {', '.join(sorted(washed))} (sold at a loss in the household)"]
