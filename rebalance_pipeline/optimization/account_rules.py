"""What an account's trades may do beyond its holdings' own bounds: its rebalance type
(account master) and the long-term deferral (the policy of its account group).

Both are bounds of the convex problem (``convex.constraint_values``): a lot the rules
keep gets sell_max 0, a security they keep out buy_max 0, and ``raise_cash`` caps the
total sold; whole-share rounding (``heuristic.py``) never sells a lot whose sell weight
is 0 nor buys one whose buy weight is 0, so it obeys them too.

Rebalance types (``tables.REBALANCE_TYPES``):

- ``normal``: no limit of its own.
- ``buy_only``: invest cash, never sell. A restricted holding is not sold either: the
  restriction mandate goes unserved, which routing sends to a person (MANUAL,
  ``mandate_unserved``); a due withdrawal the cash cannot pay makes the problem
  infeasible, which goes to a person as well.
- ``raise_cash``: sell only to meet the due cash requests: no buys, and at most what the
  shortfall (due withdrawals less cash) needs with the linear transaction costs; no
  shortfall, no trade. A restricted holding is sold only if the optimizer picks it to
  raise the cash (otherwise the restriction goes unserved, to a person).
- ``harvest_only``: sells only lots at a loss (in a taxable account; elsewhere nothing),
  buys only their substitutes (securities of a harvested lot's asset class outside its
  identical group), paid by the sales' proceeds: idle cash is not invested.

Long-term deferral: in a taxable account, a lot with an unrealized gain that is still
short-term and turns long-term within the group's ``long_term_deferral_days`` is not
sold, unless a mandate needs it. A mandate needs it when it is restricted (it must be
sold, so it is never deferred), or when the due cash requests cannot be met without the
deferred lots: the cash plus what every other sellable lot would raise after
transaction costs is short of the due withdrawals. Then the deferral is lifted for the
whole account (``deferral_lifted``), and ``describe`` says why.

Gain budget: in a taxable account with an annual realized-gain budget (features'
``gain_budgets``: the policy's per account group, or the account master's), the net
realized gains of today's sells (gains less losses, lot by lot) stay within what is left
of the year's budget. It is a soft limit: the convex problem may overrun it at a high
price (``GAIN_OVERRUN_PRICE``), which it pays only when a hard rule (a due cash request,
a restricted holding) cannot be met otherwise; the overrun of the proposal is
``gain_budget_overrun`` (a result column, an outlier flag and a routing reason).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.optimization.terms import cost_rate
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.reporting.cells import dollars

CAP_SLACK = 1e-6  # relative room over the exact sale, so the cap never makes it infeasible
# dollars of objective per dollar of net realized gain beyond the remaining budget: ten
# times a band miss's default price, far above what a dollar of gain could buy in risk
GAIN_OVERRUN_PRICE = 100.0
OVERRUN_TOLERANCE_USD = 0.01  # an overrun under a cent is the solver's rounding, not one


@dataclasses.dataclass(frozen=True)
class TradeRules:
    """The account's limits, lot and security arrays aligned with its problem."""

    may_sell: np.ndarray  # per lot
    must_sell: np.ndarray  # per lot: restricted, sold whole
    may_buy: np.ndarray  # per security
    deferred: np.ndarray  # per lot: kept by the long-term deferral unless it is lifted
    deferral_lifted: bool  # a due cash request needs the deferred lots: they may be sold
    spendable_cash: float  # dollars the trades may draw on: cash less due withdrawals
    sell_cap: float | None  # dollars: raise_cash's most the sales may raise


def sells_capped(problem: AccountProblem) -> bool:
    """Whether the account's compiled problem needs the cap on total sales."""
    return problem.rebalance_type == "raise_cash"


def gain_budgeted(problem: AccountProblem) -> bool:
    """Whether today's sells have a realized-gain budget to keep (``gain_budgets.sql``
    gives one to taxable accounts only)."""
    return problem.remaining_gain_budget_usd is not None


def gain_budget_overrun(problem: AccountProblem, sold_by_lot: np.ndarray) -> float | None:
    """Net realized gains of these sells (dollars per lot) beyond the remaining budget;
    0 within it, None without a budget."""
    if not gain_budgeted(problem):
        return None
    net_gain = float(sold_by_lot @ problem.lot_gain_per_dollar)
    overrun = net_gain - problem.remaining_gain_budget_usd
    return overrun if overrun > OVERRUN_TOLERANCE_USD else 0.0


def trade_rules(problem: AccountProblem, policy: Policy) -> TradeRules:
    lot_frozen = problem.frozen(policy.workflow.halt_mode)[problem.lot_security]
    restricted = problem.restricted[problem.lot_security] & ~lot_frozen
    free_cash = problem.cash - problem.required_cash
    kind = problem.rebalance_type
    if kind == "buy_only":
        type_sells = np.zeros(len(problem.lot_ids), dtype=bool)
    elif kind == "raise_cash":
        type_sells = np.full(len(problem.lot_ids), free_cash < 0)
    elif kind == "harvest_only":
        type_sells = _loss_lots(problem)
    else:
        type_sells = np.ones(len(problem.lot_ids), dtype=bool)
    sellable = type_sells & ~problem.lot_loss_sale_blocked & ~lot_frozen
    must_sell = restricted & sellable & (kind != "raise_cash")
    deferred = _deferral_candidates(problem) & sellable & ~restricted
    lifted = bool(deferred.any()) and _cash_needs_lots(problem, policy, sellable & ~deferred)
    return TradeRules(
        may_sell=sellable & ~(deferred & ~lifted),
        must_sell=must_sell,
        may_buy=_type_buys(problem, sellable),
        deferred=deferred,
        deferral_lifted=lifted,
        spendable_cash=min(free_cash, 0.0) if kind == "harvest_only" else free_cash,
        sell_cap=-free_cash / (1 - cost_rate(policy)) * (1 + CAP_SLACK)
        if kind == "raise_cash"
        else None,
    )


def _loss_lots(problem: AccountProblem) -> np.ndarray:
    """Lots whose sale realizes a loss with a tax effect."""
    return (problem.lot_gain_per_dollar < 0) & problem.is_taxable


def _type_buys(problem: AccountProblem, sellable: np.ndarray) -> np.ndarray:
    """Securities the rebalance type lets the account buy (``sellable``: lots it may sell)."""
    kind = problem.rebalance_type
    if kind == "raise_cash":
        return np.zeros(len(problem.security_ids), dtype=bool)
    if kind != "harvest_only":
        return np.ones(len(problem.security_ids), dtype=bool)
    harvested = problem.lot_security[sellable]
    classes = np.array(problem.asset_classes, dtype=object)
    groups = np.array(problem.identical_groups, dtype=object)
    return np.isin(classes, classes[harvested]) & ~np.isin(groups, groups[harvested])


def _deferral_candidates(problem: AccountProblem) -> np.ndarray:
    """Short-term lots at a gain that turn long-term within the deferral window."""
    days = problem.lot_days_to_long_term
    window = problem.long_term_deferral_days
    if not (problem.is_taxable and window > 0):
        return np.zeros(len(problem.lot_ids), dtype=bool)
    return (
        ~problem.lot_long_term & (days > 0) & (days <= window) & (problem.lot_gain_per_dollar > 0)
    )


def _cash_needs_lots(problem: AccountProblem, policy: Policy, other_lots: np.ndarray) -> bool:
    """The due withdrawals exceed the cash plus what ``other_lots`` raise after costs."""
    if problem.required_cash <= problem.cash:
        return False
    raised = float(problem.lot_market_values[other_lots].sum()) * (1 - cost_rate(policy))
    return problem.cash + raised < problem.required_cash


def describe(problem: AccountProblem, policy: Policy) -> list[str]:
    """What the account's rebalance type and the long-term deferral forbade, for
    ``rebalance explain``; nothing for a normal account without deferred lots."""
    rules = trade_rules(problem, policy)
    lines = _type_lines(problem, rules) if problem.rebalance_type != "normal" else []
    return lines + _deferral_lines(problem, rules) + _gain_budget_lines(problem)


def _type_lines(problem: AccountProblem, rules: TradeRules) -> list[str]:
    kind = problem.rebalance_type
    kept = [lot for lot, free in zip(problem.lot_ids, rules.may_sell, strict=True) if not free]
    unbuyable = [s for s, free in zip(problem.security_ids, rules.may_buy, strict=True) if not free]
    lines = [f"rebalance type {kind}: {TYPE_TEXT[kind]}"]
    if kept:
        lines.append(f"  no sale of lots {', '.join(kept)}")
    if unbuyable:
        lines.append(f"  no buy of {', '.join(unbuyable)}")
    if rules.sell_cap is not None:
        cap = f"at most {dollars(max(rules.sell_cap, 0.0))}"
        lines.append(f"  sales {cap} (due withdrawals less cash, plus costs)")
    if rules.spendable_cash < problem.cash - problem.required_cash:
        lines.append(f"  idle cash {dollars(problem.cash - problem.required_cash)} not invested")
    unserved = problem.restricted[problem.lot_security] & ~rules.must_sell
    for lot in np.flatnonzero(unserved):
        security = problem.security_ids[problem.lot_security[lot]]
        lot_id = problem.lot_ids[lot]
        lines.append(f"  restricted {security} ({lot_id}) kept: its sale is up to a person")
    return lines


TYPE_TEXT = {
    "buy_only": "invests cash, never sells",
    "raise_cash": "sells only to meet the due cash requests, buys nothing",
    "harvest_only": "sells only lots at a loss, buys only their substitutes from the proceeds",
}


def _deferral_lines(problem: AccountProblem, rules: TradeRules) -> list[str]:
    window = problem.long_term_deferral_days
    gains = problem.lot_market_values * problem.lot_gain_per_dollar
    if rules.deferral_lifted:
        lots = ", ".join(lot for lot, d in zip(problem.lot_ids, rules.deferred, strict=True) if d)
        return [
            f"long-term deferral ({window} days) lifted: the due cash requests "
            f"({dollars(problem.required_cash)}) cannot be met without lots {lots}"
        ]
    return [
        f"long-term deferral ({window} days): kept {problem.lot_ids[lot]} "
        f"({problem.lot_days_to_long_term[lot]} days to long-term, "
        f"gain {dollars(gains[lot])} kept unrealized)"
        for lot in np.flatnonzero(rules.deferred)
    ]


def _gain_budget_lines(problem: AccountProblem) -> list[str]:
    if not gain_budgeted(problem):
        return []
    lines = [
        f"gain budget {dollars(problem.gain_budget_usd)} for the year: "
        f"used {dollars(problem.realized_gain_ytd)} (net realized gains so far), "
        f"remaining {dollars(problem.remaining_gain_budget_usd)}"
    ]
    if not problem.gain_year_complete:
        lines.append(
            "  the year's history is incomplete (transactions before the lookback window, or "
            "a sell of unknown gain): today's trades may realize no net gain"
        )
    return lines
