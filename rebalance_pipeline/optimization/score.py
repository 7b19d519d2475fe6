"""The cost/benefit score of the trades actually proposed (after rounding).

score = Σ over the score's terms (``terms.py``) of ±weight × dollars: the risk removed,
harvested losses and the quality bonus count for it; transaction costs, market impact
and taxes on gains against it. The optimizer minimized −Σ of the same terms, and doing
nothing scores exactly 0. Gains and taxes are reported only for taxable accounts.
"""

from __future__ import annotations

import math

import numpy as np

from rebalance_pipeline.optimization.account_rules import gain_budget_overrun
from rebalance_pipeline.optimization.heuristic import ShareTrades
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.optimization.risk import FactorRisk
from rebalance_pipeline.optimization.terms import Account, Trades, score_terms
from rebalance_pipeline.policy import Policy


def dollar_trades(problem: AccountProblem, trades: ShareTrades) -> Trades:
    return Trades(
        bought=trades.buy_shares * problem.prices,
        sold_by_lot=trades.sell_shares * problem.lot_prices,
    )


def score_usd(account: Account, trades: Trades, with_impact: bool) -> tuple[float, dict]:
    """The score in dollars and each term's unweighted dollars by result column."""
    terms = score_terms(with_impact)
    dollars = {term.column: term.dollars(account, trades) for term in terms}
    score = sum(term.signed_weight(account.policy) * dollars[term.column] for term in terms)
    return score, dollars


def score_trades(
    problem: AccountProblem, trades: ShareTrades, risk: FactorRisk, policy: Policy
) -> dict[str, float | int | bool | None]:
    """The score columns of tables.OPTIMIZATION_RESULTS for these trades."""
    account = Account(problem, policy, risk)
    in_dollars = dollar_trades(problem, trades)
    with_impact = policy.optimization.market_impact_coefficient > 0
    score, components = score_usd(account, in_dollars, with_impact)
    costs = components["cost_transaction_usd"] + components.get("cost_market_impact_usd", 0.0)
    bought, sold = in_dollars.bought, in_dollars.sold(problem)
    bought_usd, sold_usd = bought.sum(), sold.sum()
    value = problem.account_value
    return {
        "score_usd": score,
        "score_bps": score / value * 1e4 if value > 0 else 0.0,
        **components,
        "tracking_error_before": _volatility(account.variance_before),
        "tracking_error_after": _volatility(risk.variance(in_dollars.active_after(account))),
        "turnover_usd": float(bought_usd + sold_usd),
        **_realized_gains(problem, in_dollars),
        "gain_budget_overrun_usd": gain_budget_overrun(problem, in_dollars.sold_by_lot),
        "cash_after": problem.cash + float(sold_usd - bought_usd) - costs,
        "trade_count": np.count_nonzero(trades.buy_shares) + np.count_nonzero(trades.sell_shares),
        "touches_halted": bool(
            problem.halted.any() and np.any(problem.halted & ((bought > 0) | (sold > 0)))
        ),
    }


def _realized_gains(problem: AccountProblem, trades: Trades) -> dict[str, float | None]:
    """Short- and long-term gains realized: only where they have a tax effect."""
    if not problem.is_taxable:
        return {"realized_gain_st": None, "realized_gain_lt": None}
    gains = trades.sold_by_lot * problem.lot_gain_per_dollar
    long_term = problem.lot_long_term
    return {
        "realized_gain_st": float(gains[~long_term].sum()),
        "realized_gain_lt": float(gains[long_term].sum()),
    }


def _volatility(variance: float) -> float:
    return math.sqrt(max(variance, 0.0))
