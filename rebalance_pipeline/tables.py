"""The tables that pass between stages, as Polars schemas.

Every stage reads and writes frames with exactly these columns (more columns are allowed
only where a schema says so). Keeping them in one module is what lets the stages be
built and tested apart: ingest and the scenario adapter produce the canonical tables,
validation, features, optimization and routing consume them.

Conventions: ids are strings; dates are ``pl.Date``; money and quantities are
``pl.Float64`` (quantities may be fractional for mutual funds); every row that came from
a custodian file keeps ``custodian``, ``source_file`` and ``source_row`` (1-based line
number in that file) so a finding or a trade can be traced to its bytes.
"""

from __future__ import annotations

import polars as pl

Utf8 = pl.String
F64 = pl.Float64
Date = pl.Date
I64 = pl.Int64

SOURCE = {"custodian": Utf8, "source_file": Utf8, "source_row": I64}

# --------------------------------------------------------------------------------------
# Firm inputs (effective-dated files under data/firm, read as of the partition date)
# --------------------------------------------------------------------------------------
ACCOUNTS = pl.Schema(
    {
        "account_id": Utf8,
        "household_id": Utf8,
        "custodian": Utf8,
        "registration": Utf8,  # taxable | traditional_ira | roth
        "model_id": Utf8,
        "st_rate": F64,
        "lt_rate": F64,
        "opened_date": Date,
        # the date the firm last released trades for the account (from its own batches)
        "last_firm_trade_date": Date,
        # REBALANCE_TYPES; null (no column, a blank cell) is "normal"
        "rebalance_type": Utf8,
        # the account's annual realized-gain budget: dollars ("25000"), % of its total
        # value ("1.5%") or "none"; null (no column, a blank cell) is its group's
        "gain_budget": Utf8,
        # the day the account was funded in kind with holdings outside its model and began
        # moving to it (see dbt_like_sql/transition_progress.sql); null: not in transition
        "transition_start": Date,
    }
)
# what an account's trades may do (see rebalance_pipeline/optimization/account_rules.py)
REBALANCE_TYPES = ("normal", "buy_only", "raise_cash", "harvest_only")
# an account master's gain_budget: "none", or dollars or a percent ("1.5%"), not negative
GAIN_BUDGET_PATTERN = r"(?i)^\s*(none|\d+(\.\d+)?%?)\s*$"
SECURITIES = pl.Schema(
    {
        "security_id": Utf8,
        "symbol": Utf8,
        "asset_class": Utf8,  # us_equity | intl_equity | us_bonds | ...
        "sector": Utf8,
        "rating": I64,  # 1..5, higher is better
        "round_lot": I64,
        "identical_group": Utf8,  # substantially-identical group; the id itself if none
        "average_daily_volume": F64,  # shares a day; null when unknown (no market impact)
    }
)
MODEL_TARGETS = pl.Schema({"model_id": Utf8, "security_id": Utf8, "target_weight": F64})
MODEL_BANDS = pl.Schema(
    {"model_id": Utf8, "asset_class": Utf8, "min_weight": F64, "max_weight": F64}
)
RESTRICTIONS = pl.Schema(
    {
        "restriction_id": Utf8,
        "account_id": Utf8,  # null when the restriction is a household's
        "household_id": Utf8,  # null when the restriction is an account's
        "security_id": Utf8,  # null when the restriction is a sector
        "sector": Utf8,  # null when the restriction is a security
        "reason": Utf8,
    }
)
CASH_REQUESTS = pl.Schema(
    {
        "request_id": Utf8,
        "account_id": Utf8,
        "amount": F64,
        "priority": Utf8,  # high | normal
        "due_date": Date,
    }
)
HOLDS = pl.Schema({"account_id": Utf8, "start_date": Date, "end_date": Date, "reason": Utf8})
HALTS = pl.Schema({"security_id": Utf8, "start_date": Date, "end_date": Date, "reason": Utf8})

# --------------------------------------------------------------------------------------
# Custodian inputs (parsed from the drops; one schema whatever the custodian)
# security_id is null where the custodian's identifier is not in the security master;
# symbol always keeps what the custodian sent.
# --------------------------------------------------------------------------------------
PRICES = pl.Schema(
    {
        "price_date": Date,
        "security_id": Utf8,
        "symbol": Utf8,
        "close": F64,  # null = the custodian sent the row without a usable price
        **SOURCE,
    }
)
POSITIONS = pl.Schema(
    {"account_id": Utf8, "security_id": Utf8, "symbol": Utf8, "quantity": F64, **SOURCE}
)
LOTS = pl.Schema(
    {
        "account_id": Utf8,
        "lot_id": Utf8,
        "security_id": Utf8,
        "symbol": Utf8,
        "quantity": F64,
        "cost_basis": F64,  # total dollars for the lot
        "acquired_date": Date,
        **SOURCE,
    }
)
TRANSACTION_TYPES = ("buy", "sell", "deposit", "withdrawal", "dividend", "fee")
TRANSACTIONS = pl.Schema(
    {
        "transaction_id": Utf8,
        "account_id": Utf8,
        "trade_date": Date,
        "type": Utf8,  # buy | sell | deposit | withdrawal | dividend | fee
        "security_id": Utf8,
        "symbol": Utf8,
        "quantity": F64,
        "price": F64,
        "amount": F64,  # signed cash effect on the account
        "realized_gain": F64,  # sells only
        "cost_basis": F64,  # sells only: total dollars of basis of the shares sold
        "lot_id": Utf8,
        **SOURCE,
    }
)
# Lots of earlier lots files: the lots that recent sells without a delivered gain or cost
# basis name, as the lots file of the business day before the sale (file_date) listed them.
SOLD_LOTS = pl.Schema({"file_date": Date, **LOTS})
CASH_BALANCES = pl.Schema({"account_id": Utf8, "cash": F64, **SOURCE})
CORPORATE_ACTIONS = pl.Schema(
    {
        "security_id": Utf8,
        "symbol": Utf8,
        "action": Utf8,  # split | symbol_change
        "effective_date": Date,
        "ratio": F64,  # new shares per old share for a split, null otherwise
        "new_symbol": Utf8,  # symbol_change only
        **SOURCE,
    }
)
SOURCE_FILES = pl.Schema(
    {
        "custodian": Utf8,
        "kind": Utf8,  # positions | lots | transactions | cash | prices | corporate_actions
        "file_date": Date,
        "source_file": Utf8,  # path relative to the drop root
        "sha256": Utf8,
        "arrived_at": pl.Datetime("us", "UTC"),  # from the transfer server's arrival log
        "detail_rows": I64,  # detail records read
        "trailer_rows": I64,  # record count the trailer claims (null: format has none)
        "trailer_checksum": Utf8,  # checksum the trailer claims (null: format has none)
        "computed_checksum": Utf8,  # the same checksum computed over the records read
        # median detail rows of the custodian's file of this kind on recent business days
        # (positions, lots and cash only; null: no history)
        "history_median_rows": I64,
        "status": Utf8,  # ok | missing | unreadable
    }
)

# --------------------------------------------------------------------------------------
# Validation outputs
# --------------------------------------------------------------------------------------
FINDINGS = pl.Schema(
    {
        "finding_id": Utf8,  # stable hash of the other identifying columns
        "trade_date": Date,
        "check": Utf8,  # e.g. unknown_security, missing_price, truncated_file
        "severity": Utf8,  # error (suspends its accounts) | warning
        "custodian": Utf8,
        "source_file": Utf8,
        "source_row": I64,
        "security_id": Utf8,
        "account_ids": pl.List(Utf8),  # every account the finding touches
        "message": Utf8,
        # the finding is about the security itself (its price, its master data), so nobody
        # trades it today; a fault in one account's rows never is
        "blocks_security": pl.Boolean,
    }
)
ACCOUNT_STATUS = pl.Schema(
    {
        "account_id": Utf8,
        "status": Utf8,  # ok | suspended
        "reason_codes": pl.List(Utf8),  # the checks behind a suspension, sorted
        "finding_ids": pl.List(Utf8),
    }
)
MANUAL_QUEUE = pl.Schema(
    {
        "account_id": Utf8,
        "reason_codes": pl.List(Utf8),
        "requested_amount": F64,
        "due_date": Date,
        "cash_available": F64,
        "last_good_date": Date,  # latest earlier date on which the account was ok (or null)
    }
)

# --------------------------------------------------------------------------------------
# Feature tables (DuckDB SQL models in dbt_like_sql/, one file each, same names)
# --------------------------------------------------------------------------------------
ACCOUNT_POSITIONS = pl.Schema(  # positions, or the lots' sums where the account has none
    {"account_id": Utf8, "security_id": Utf8, "symbol": Utf8, "quantity": F64}
)
UNTRADABLE_SECURITIES = pl.Schema({"security_id": Utf8, "checks": Utf8})
SECURITY_PRICES = pl.Schema({"security_id": Utf8, "close": F64})  # the date's close per security
ACCOUNT_VALUATIONS = pl.Schema(
    {
        "account_id": Utf8,
        "household_id": Utf8,
        "custodian": Utf8,
        "registration": Utf8,
        "model_id": Utf8,
        "st_rate": F64,
        "lt_rate": F64,
        "status": Utf8,  # ok | suspended (from account_status; suspended rows are kept)
        "cash": F64,
        "market_value": F64,  # positions at the date's closes (null prices count 0)
        "total_value": F64,  # market_value + cash
        "account_group": Utf8,  # from the policy's account groups by value/registration
        "review_policy": Utf8,
        "rebalance_type": Utf8,  # the account master's, "normal" where it gives none
    }
)
HOLDINGS = pl.Schema(
    {
        "account_id": Utf8,
        "security_id": Utf8,
        "quantity": F64,
        "price": F64,
        "market_value": F64,
        "weight": F64,  # of total_value
        "asset_class": Utf8,
        "sector": Utf8,
        "identical_group": Utf8,
    }
)
ASSET_CLASS_DRIFT = pl.Schema(
    {
        "account_id": Utf8,
        "model_id": Utf8,
        "asset_class": Utf8,
        "weight": F64,
        "target_weight": F64,
        "min_weight": F64,
        "max_weight": F64,
        "drift": F64,  # weight - target_weight
        "breach": Utf8,  # below | above | null
    }
)
TAX_LOTS = pl.Schema(
    {
        "account_id": Utf8,
        "lot_id": Utf8,
        "security_id": Utf8,
        "quantity": F64,
        "cost_basis": F64,
        "acquired_date": Date,
        "price": F64,
        "market_value": F64,
        "unrealized_gain": F64,
        "holding_days": I64,
        "is_long_term": pl.Boolean,  # held more than one year
        "days_to_long_term": I64,  # days until the lot turns long-term (0: it is)
    }
)
SELL_GAINS = pl.Schema(
    {
        "transaction_id": Utf8,
        "account_id": Utf8,
        "security_id": Utf8,
        "trade_date": Date,
        "quantity": F64,
        "price": F64,
        "lot_id": Utf8,
        "realized_gain": F64,  # null: unknown
        # where the gain comes from, best first: delivered_gain | delivered_cost_basis |
        # lot_cost_basis | unknown
        "gain_source": Utf8,
    }
)
GAIN_BUDGETS = pl.Schema(
    {
        "account_id": Utf8,
        "gain_budget_usd": F64,  # the year's budget; null: none (or not a taxable account)
        "realized_gain_ytd": F64,  # net realized gains of the year's sells seen so far
        "history_from": Date,  # the first day of the loaded transactions history
        "unknown_gain_sells": I64,  # the year's sells whose gain no source tells
        # the history shows the whole year (history_from <= 1 January) and every gain
        "year_complete": pl.Boolean,
        # what today's trades may realize; with an incomplete year at most 0 (null: none)
        "remaining_gain_budget_usd": F64,
    }
)
TRANSITION_PROGRESS = pl.Schema(
    {
        "account_id": Utf8,
        "transition_start": Date,
        "total_value": F64,  # cash and positions at the date's closes
        "model_value": F64,  # positions in securities of the account's model
        "non_model_value": F64,  # positions in any other security: what is left to sell
        "model_share": F64,  # model_value / total_value (null for a value of 0 or less)
        "realized_gain_since_start": F64,  # net realized gains of the sells seen since
        # the history shows every sell since the start (history_from <= transition_start)
        # and every one's gain
        "gains_complete": pl.Boolean,
        "gain_budget_usd": F64,  # gain_budgets': the year's budget (null: none)
        "remaining_gain_budget_usd": F64,  # gain_budgets': what today's trades may realize
    }
)
WASH_SALE_WINDOWS = pl.Schema(
    {
        "household_id": Utf8,
        "identical_group": Utf8,
        "blocks": Utf8,  # buy (after a taxable loss sale) | loss_sale (after a buy)
        "window_start": Date,  # the source transaction's trade date
        "window_end": Date,  # inclusive: source date + 30 days
        "source_account_id": Utf8,
        "source_security_id": Utf8,
        "source_transaction_id": Utf8,
        "gain_source": Utf8,  # blocks buy: where the sell's gain comes from (SELL_GAINS)
    }
)
DAYS_SINCE_TRADE = pl.Schema(
    {
        "account_id": Utf8,
        "last_custodian_trade_date": Date,
        "last_firm_trade_date": Date,
        "last_trade_date": Date,  # the later of the two
        "days_since_last_trade": I64,  # calendar days; null when never traded
    }
)
RESTRICTED_SECURITIES = pl.Schema({"account_id": Utf8, "security_id": Utf8, "restriction_id": Utf8})
MANDATES = pl.Schema(
    {
        "account_id": Utf8,
        "mandate": Utf8,  # cash_request | restriction | band_breach
        "priority": Utf8,  # high | normal
        "amount": F64,  # cash_request: dollars to raise
        "security_id": Utf8,  # restriction: the restricted holding
        "asset_class": Utf8,  # band_breach: the class outside its band
        "detail": Utf8,
    }
)
ACTIVE_HOLDS = HOLDS
ACTIVE_HALTS = HALTS

# --------------------------------------------------------------------------------------
# Optimization outputs (one result row per account that reached the optimizer)
# --------------------------------------------------------------------------------------
OPTIMIZATION_RESULTS = pl.Schema(
    {
        "account_id": Utf8,
        "solve_status": Utf8,  # optimal | infeasible | data_error | solver_error | no_universe
        "status_detail": Utf8,
        "account_value": F64,
        "cash_before": F64,
        "cash_after": F64,  # after the trades settle, before a due withdrawal is paid
        "required_cash": F64,  # due withdrawals the trades must raise
        "score_usd": F64,
        "score_bps": F64,
        "benefit_risk_usd": F64,
        "benefit_tax_loss_usd": F64,
        "benefit_quality_usd": F64,
        # householded accounts only (optimization/household.py): asset location's benefit
        "benefit_location_usd": F64,
        # the policy's value of the transition's sales (0 outside a transition)
        "benefit_transition_usd": F64,
        "cost_transaction_usd": F64,
        "cost_market_impact_usd": F64,  # null when the policy models none
        "cost_tax_usd": F64,
        "tracking_error_before": F64,  # annualised, as a fraction
        "tracking_error_after": F64,
        "turnover_usd": F64,
        "realized_gain_st": F64,  # null outside taxable accounts (no tax effect)
        "realized_gain_lt": F64,
        # net realized gains beyond the remaining gain budget (null: no budget)
        "gain_budget_overrun_usd": F64,
        "trade_count": I64,
        "touches_halted": pl.Boolean,  # the proposal buys or sells a halted security
        "solve_seconds": F64,
    }
)
PROPOSED_TRADES = pl.Schema(
    {
        "account_id": Utf8,
        "security_id": Utf8,
        "side": Utf8,  # buy | sell
        "quantity": F64,
        "price": F64,
        "amount": F64,  # quantity * price, positive
        "lot_id": Utf8,  # sells name their lot; null for buys
        "realized_gain": F64,  # sells of taxable accounts only
        "asset_class": Utf8,
    }
)

# --------------------------------------------------------------------------------------
# Routing outputs
# --------------------------------------------------------------------------------------
ROUTES = ("SUSPENDED", "MANUAL", "HOLD", "HALT", "MANDATE", "SCORE", "NO_TRADE")
ROUTING_DECISIONS = pl.Schema(
    {
        "account_id": Utf8,
        "route": Utf8,  # one of ROUTES
        "reasons": pl.List(Utf8),  # reason codes, documented in routing/reasons.py
        "rule": Utf8,  # the human-readable rule that decided the route
        "account_group": Utf8,
        "review_policy": Utf8,  # none | outliers | all
        "review": Utf8,  # auto | review | null (no trades)
        "outlier_flags": pl.List(Utf8),
        "score_bps": F64,
        "threshold_bps": F64,
        "days_since_last_trade": I64,
    }
)


def empty(schema: pl.Schema) -> pl.DataFrame:
    """An empty frame with the given schema."""
    return pl.DataFrame(schema=schema)


def conform(df: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Select and cast ``df`` to ``schema``; missing columns become nulls.

    Used at stage boundaries so that a stage never hands on a frame with a drifting
    column order or type.
    """
    return df.select(
        [
            (pl.col(name) if name in df.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )
