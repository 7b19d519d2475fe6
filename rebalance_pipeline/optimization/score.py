"""The cost/benefit score of the trades actually proposed (after rounding).

score = risk benefit + tax_weight × harvested-loss value + quality benefit
        − transaction costs − tax_weight × tax on realized gains,
every term recomputed from whole shares, so doing nothing scores exactly 0.
"""

from __future__ import annotations

import math

import numpy as np

from rebalance_pipeline.optimization.heuristic import ShareTrades
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.optimization.risk import FactorRisk
from rebalance_pipeline.policy import Policy


def score_trades(
    problem: AccountProblem, trades: ShareTrades, risk: FactorRisk, policy: Policy
) -> dict[str, float | int | bool]:
    """The score columns of tables.OPTIMIZATION_RESULTS for these trades."""
    opt = policy.optimization
    value = problem.account_value
    lot_prices = problem.prices[problem.lot_security]
    bought = trades.buy_shares * problem.prices
    sold_by_lot = trades.sell_shares * lot_prices
    sold = np.bincount(problem.lot_security, sold_by_lot, len(problem.security_ids))
    holding = problem.quantities * problem.prices
    per_dollar = 1.0 / value if value > 0 else 0.0  # nothing left to invest: no weights
    active_before = holding * per_dollar - problem.targets
    active_after = (holding - sold + bought) * per_dollar - problem.targets
    variance_before, variance_after = risk.variance(active_before), risk.variance(active_after)
    gains = sold_by_lot - problem.lot_cost_basis * _fraction_sold(problem, trades)
    taxes = problem.lot_tax_rates() * gains
    quality = float(problem.quality_per_dollar(opt.quality_bonus_bps_per_rating) @ bought)
    transaction = transaction_cost(problem, bought + sold, risk, policy)
    components = {
        "benefit_risk_usd": opt.active_variance_price * value * (variance_before - variance_after),
        "benefit_tax_loss_usd": float(np.clip(-taxes, 0.0, None).sum()),
        "benefit_quality_usd": quality,
        "cost_transaction_usd": transaction,
        "cost_tax_usd": float(np.clip(taxes, 0.0, None).sum()),
    }
    score = (
        components["benefit_risk_usd"]
        + opt.tax_weight * components["benefit_tax_loss_usd"]
        + components["benefit_quality_usd"]
        - components["cost_transaction_usd"]
        - opt.tax_weight * components["cost_tax_usd"]
    )
    long_term = problem.lot_long_term
    return {
        "score_usd": score,
        "score_bps": score / problem.total_value * 1e4 if problem.total_value > 0 else 0.0,
        **components,
        "tracking_error_before": math.sqrt(max(variance_before, 0.0)),
        "tracking_error_after": math.sqrt(max(variance_after, 0.0)),
        "turnover_usd": float(bought.sum() + sold.sum()),
        "realized_gain_st": float(gains[~long_term].sum()),
        "realized_gain_lt": float(gains[long_term].sum()),
        "cash_after": problem.cash + float(sold.sum() - bought.sum()) - transaction,
        "trade_count": np.count_nonzero(trades.buy_shares) + np.count_nonzero(trades.sell_shares),
        "touches_halted": bool(np.any(problem.halted & ((bought > 0) | (sold > 0)))),
    }


def transaction_cost(
    problem: AccountProblem, traded_usd: np.ndarray, risk: FactorRisk, policy: Policy
) -> float:
    """Linear cost in bps plus the optional 3/2-power market impact, in dollars."""
    opt = policy.optimization
    linear = opt.transaction_cost_bps * 1e-4 * float(traded_usd.sum())
    if opt.market_impact_coefficient <= 0:
        return linear
    daily_vol = risk.security_vols() / math.sqrt(252.0)
    impact = opt.market_impact_coefficient * daily_vol * traded_usd**1.5
    return linear + float(impact.sum()) / math.sqrt(problem.account_value)


def _fraction_sold(problem: AccountProblem, trades: ShareTrades) -> np.ndarray:
    quantities = np.where(problem.lot_quantities > 0, problem.lot_quantities, 1.0)
    return trades.sell_shares / quantities
