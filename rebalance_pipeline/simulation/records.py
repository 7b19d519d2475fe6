"""What a simulation run records, one row per account and simulated day, and one per fill.

The engine (simulation/engine.py) writes these; metrics and the report read only these."""

from __future__ import annotations

import polars as pl

ACCOUNT_DAYS = pl.Schema(
    {
        "variant": pl.String,  # policy variant name, e.g. "calendar-monthly/tax-medium"
        "policy": pl.String,  # calendar-monthly | calendar-quarterly | calendar-annual |
        #                       band-absolute | band-relative | cost-benefit-fixed |
        #                       cost-benefit-decay
        "tax_aversion": pl.String,  # low | medium | high
        "day": pl.Date,
        "account_id": pl.String,
        "household_id": pl.String,
        "account_group": pl.String,
        "model_id": pl.String,
        "taxable": pl.Boolean,
        "value": pl.Float64,  # end-of-day market value incl. cash, after fills and flows
        "cash_flow": pl.Float64,  # deposits (+) / withdrawals (-) settled that day
        "account_return": pl.Float64,  # day's return net of costs and flows
        "model_return": pl.Float64,  # the model portfolio's return that day
        "tracking_error": pl.Float64,  # ex-ante annualized active risk vs the model, start of day
        "traded": pl.Boolean,  # fills on this day
        "turnover": pl.Float64,  # dollars bought + sold that day
        "transaction_costs": pl.Float64,  # dollars
        "realized_gains": pl.Float64,  # dollars, positive part (taxable accounts)
        "harvested_losses": pl.Float64,  # dollars, positive (taxable accounts)
        "taxes_paid": pl.Float64,  # dollars of tax on the day's net realized gains (>= 0)
        "days_since_last_trade": pl.Int64,  # null before the first trade
        "suspended": pl.Boolean,
    }
)

FILLS = pl.Schema(
    {
        "variant": pl.String,
        "day": pl.Date,  # fill day (the business day after the decision)
        "account_id": pl.String,
        "security_id": pl.String,
        "side": pl.String,
        "lot_id": pl.String,  # lot sold, or the new lot a buy opens
        "quantity": pl.Float64,
        "price": pl.Float64,
        "amount": pl.Float64,
        "cost": pl.Float64,
        "realized_gain": pl.Float64,
    }
)
