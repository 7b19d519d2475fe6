"""Reason codes of the routing decisions (``ROUTING_DECISIONS.reasons``).

Every code the router writes is one of the constants below, except the documented
families built from a prefix (``DATA_PREFIX``, ``COMPLIANCE_PREFIX``) or from a mandate
(``mandate_code``). The compliance stage (rebalance_pipeline/compliance) writes the last
word on a route: an account whose proposal breaks a pre-release rule becomes MANUAL with
one ``compliance:<rule>`` code per rule broken.
"""

from __future__ import annotations

import polars as pl

# SUSPENDED / MANUAL: bad data
BAD_DATA = "bad_data"  # validation suspended the account; the checks follow as data:<check>
DATA_PREFIX = "data:"  # data:<check>: one validation check behind the suspension
MANUAL_CASH_REQUEST = "bad_data_cash_request"  # bad data and a due high-priority cash request

# MANUAL from compliance: compliance:<rule>, one per pre-release rule the proposal breaks
# (rules in compliance/rules.py: account_not_tradable, halted_security, restricted_buy,
# sell_lot, short_position, negative_cash, wash_sale, round_lot, min_trade_size,
# rebalance_type, invalid_trade); the account's trades are withheld, released and queued alike
COMPLIANCE_PREFIX = "compliance:"

# HOLD
ACCOUNT_HOLD = "account_hold"  # an active hold (start <= as_of <= end) stops all trading
PENDING_ORDERS = "pending_orders"  # policy pending_orders=hold: released trades not yet executed

# MANUAL from the optimizer
MANDATE_INFEASIBLE = "mandate_infeasible"  # the optimizer cannot meet a mandate (infeasible)
OPTIMIZER_DATA_ERROR = "optimizer_data_error"  # the account's numbers cannot enter the problem
MANDATE_UNSERVED = "mandate_unserved"  # a due mandate the proposal cannot serve (e.g. frozen)
SOLVER_ERROR = "solver_error"  # the solver failed on the account; a person trades it
UNKNOWN_SOLVE_STATUS = "unknown_solve_status"  # a solve status the router does not know

# HALT
HALTED_SECURITY = "halted_security"  # the proposal buys or sells a halted security

# MANDATE: mandate_code(mandate, priority), e.g. cash_request_high, restriction_normal,
# band_breach_high (see features' MANDATES: cash_request | restriction | band_breach)
MANDATE_DEFERRED = "mandate_deferred"  # a normal-priority mandate waits (high priority only)

# SCORE
SCORE_ABOVE_THRESHOLD = "score_above_threshold"  # score_bps >= the group's decayed threshold
CALENDAR_DUE = "calendar_due"  # trigger=calendar: days since the last trade >= calendar_days

# MANDATE / SCORE, after the route's own reasons: the proposal realizes net gains beyond
# the account's remaining annual gain budget (the amount: OPTIMIZATION_RESULTS'
# gain_budget_overrun_usd; also an outlier flag, so an 'outliers' group reviews it)
GAIN_BUDGET_OVERRUN = "gain_budget_overrun"

# NO_TRADE
SCORE_BELOW_THRESHOLD = "score_below_threshold"  # score_bps under the threshold (or null)
# (a due mandate the cash already serves, e.g. a withdrawal, is listed after the trigger)
CALENDAR_NOT_DUE = "calendar_not_due"  # trigger=calendar: traded too recently
SCORE_TRIGGER_OFF = "score_trigger_off"  # trigger=bands: only mandates trade
NO_TRADES_PROPOSED = "no_trades_proposed"  # the route would trade but the proposal is empty
NO_UNIVERSE = "no_universe"  # the optimizer had nothing it could trade for the account
NOT_OPTIMIZED = "not_optimized"  # the account has no optimizer result (never reached it)


def mandate_code(mandate: pl.Expr, priority: pl.Expr) -> pl.Expr:
    """The reason code of each mandate: ``<mandate>_<priority>``."""
    return pl.format("{}_{}", mandate, priority)


def data_codes(checks: pl.Expr) -> pl.Expr:
    """The reason codes of lists of validation checks behind a suspension."""
    return checks.list.eval(pl.lit(DATA_PREFIX) + pl.element())


def compliance_code(rule: str) -> str:
    """The reason code of one pre-release rule a withheld proposal breaks."""
    return f"{COMPLIANCE_PREFIX}{rule}"


# Outlier flags (``ROUTING_DECISIONS.outlier_flags``), thresholds in policy.outliers
FLAG_TURNOVER = "turnover"  # turnover_usd / account value above max_turnover_pct
FLAG_REALIZED_GAIN_USD = "realized_gain_usd"  # net realized gain above max_realized_gain_usd
FLAG_REALIZED_GAIN_PCT = "realized_gain_pct"  # net realized gain / value above max_..._pct
FLAG_TRACKING_ERROR = "residual_tracking_error"  # TE after the trades above max_..._bps
FLAG_TRADE_COUNT = "trade_count"  # more trades than max_trade_count
FLAG_GAIN_BUDGET_OVERRUN = GAIN_BUDGET_OVERRUN  # net realized gains beyond the gain budget
FLAG_PEER_TURNOVER = "peer_turnover"  # |z| of turnover vs same-model traded peers > peer_zscore
