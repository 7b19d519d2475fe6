"""From the convex solution's weights to whole-share trades (Boyd 2017 / Moehle 2021).

Sells round up within their lot and buys round down, so the cash the convex solution
raised is still raised (unless rounding up would carry the net realized gains past the
gain budget the convex solution kept: those sells round down); orders (account ×
security × side) below the minimum size are dropped, whatever their split over lots;
with round lots buys are whole round lots and sells too, unless the sale closes the
position.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rebalance_pipeline.optimization.account_rules import OVERRUN_TOLERANCE_USD, gain_budgeted
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.policy import Policy

SHARE_TOLERANCE = 1e-3  # a solution this close to a whole share is that share
NOISE_SHARE_OF_VALUE = 1e-5  # trades below this fraction of V are solver noise


@dataclasses.dataclass(frozen=True)
class ShareTrades:
    buy_shares: np.ndarray  # per universe security
    sell_shares: np.ndarray  # per lot


def no_trades(problem: AccountProblem) -> ShareTrades:
    return ShareTrades(np.zeros(len(problem.security_ids)), np.zeros(len(problem.lot_ids)))


def whole_shares(
    problem: AccountProblem, buy_weights: np.ndarray, sell_weights: np.ndarray, policy: Policy
) -> ShareTrades:
    """Integer-share trades near the weights, keeping cash ≥ the due withdrawals."""
    value = problem.account_value
    noise = max(1.0, NOISE_SHARE_OF_VALUE * value)
    lot_prices = problem.lot_prices
    sell_dollars = sell_weights * value
    buy_dollars = buy_weights * value
    sells = np.minimum(np.ceil(sell_dollars / lot_prices - SHARE_TOLERANCE), problem.lot_quantities)
    # restricted lots are sold however small (a frozen one has a zero sell weight)
    forced = problem.restricted[problem.lot_security] & (sell_weights > 0)
    sells = np.where((sell_dollars < noise) & ~forced, 0.0, np.maximum(sells, 0.0))
    whole_sells = sells
    sells = _within_gain_budget(problem, sells, sell_dollars)
    buys = np.floor(buy_dollars / problem.prices + SHARE_TOLERANCE)
    buys = np.where(buy_dollars < noise, 0.0, buys)
    opt = policy.optimization
    if opt.round_lots:
        buys, sells = _round_lots(problem, buys, sells)
    sell_orders = np.bincount(problem.lot_security, sells * lot_prices, len(problem.prices))
    small_sell = (sell_orders < opt.min_trade_usd)[problem.lot_security]
    sells = np.where(small_sell & ~forced, 0.0, sells)
    buys = np.where(buys * problem.prices < opt.min_trade_usd, 0.0, buys)
    buys = _fund_buys(problem, buys, sells, policy)
    cost_rate = opt.transaction_cost_bps * 1e-4
    if cash_after(problem, buys, sells, cost_rate) < problem.required_cash:
        # rounding lots or dropping small sells left the withdrawal short: keep the
        # whole-share sells, which raise at least what the convex solution raised
        sells = whole_sells
    return ShareTrades(buys, sells)


def _within_gain_budget(
    problem: AccountProblem, sells: np.ndarray, sell_dollars: np.ndarray
) -> np.ndarray:
    """Sells with the lots at a gain rounded down, largest gain per share first, while the
    rounding up carries the net realized gains past both the remaining gain budget and
    what the convex solution itself realized (its own overrun was priced and chosen)."""
    if not gain_budgeted(problem):
        return sells
    lot_prices = problem.lot_prices
    gain_per_share = problem.lot_gain_per_dollar * lot_prices
    convex_gain = float(sell_dollars @ problem.lot_gain_per_dollar)
    allowed = max(problem.remaining_gain_budget_usd, convex_gain)
    rounded_down = np.maximum(np.floor(sell_dollars / lot_prices + SHARE_TOLERANCE), 0.0)
    sells = sells.copy()
    for lot in np.argsort(-gain_per_share, kind="stable"):
        if sells @ gain_per_share <= allowed + OVERRUN_TOLERANCE_USD:
            break
        if gain_per_share[lot] > 0:
            sells[lot] = min(sells[lot], rounded_down[lot])
    return sells


def _round_lots(
    problem: AccountProblem, buys: np.ndarray, sells: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lot_size = problem.round_lots.astype(np.float64)
    buys = np.floor(buys / lot_size) * lot_size
    per_lot = lot_size[problem.lot_security]
    sold = np.bincount(problem.lot_security, sells, len(problem.security_ids))
    closes = np.isclose(sold, problem.quantities)[problem.lot_security]
    rounded = np.minimum(
        np.ceil(sells / per_lot) * per_lot, np.floor(problem.lot_quantities / per_lot) * per_lot
    )
    return buys, np.where(closes, sells, rounded)


def _fund_buys(
    problem: AccountProblem, buys: np.ndarray, sells: np.ndarray, policy: Policy
) -> np.ndarray:
    """Cut the largest buys until cash after costs covers the due withdrawals."""
    opt = policy.optimization
    cost_rate = opt.transaction_cost_bps * 1e-4
    if cash_after(problem, buys, sells, cost_rate) >= problem.required_cash:
        return buys
    step = problem.round_lots.astype(np.float64) if opt.round_lots else np.ones(len(buys))
    buys = buys.copy()
    for i in np.argsort(-buys * problem.prices, kind="stable"):
        shortfall = problem.required_cash - cash_after(problem, buys, sells, cost_rate)
        if shortfall <= 0:
            break
        cut = np.ceil(shortfall / (problem.prices[i] * (1 + cost_rate)) / step[i]) * step[i]
        buys[i] = max(buys[i] - cut, 0.0)
    return buys


def cash_after(
    problem: AccountProblem, buys: np.ndarray, sells: np.ndarray, cost_rate: float
) -> float:
    """Cash once the trades settle (linear costs only; the score adds any impact)."""
    bought = float(buys @ problem.prices)
    sold = float(sells @ problem.lot_prices)
    return problem.cash + sold - bought - cost_rate * (bought + sold)
