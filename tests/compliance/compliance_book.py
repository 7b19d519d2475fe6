"""A small household book for the compliance rules, with answers worked out by hand.

Household H1: A1 (taxable, cash 1,000) and A2 (traditional IRA, cash 500); household H2:
B1 (taxable, no cash). SEC-X and SEC-Z are substantially identical (group GX, round lot
100, close 10); SEC-Y is a tobacco stock (its own group, round lot 1, close 20).

Lots: A1-L1 200 X at 15/share (a loss at 10), A1-L2 50 Y at 10/share (a gain at 20),
A2-L1 100 X at 5/share, B1-L1 100 Y at 10/share; positions are the lots' sums.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from faults import trade_row

from rebalance_pipeline import tables as t
from rebalance_pipeline.compliance import ComplianceInputs
from rebalance_pipeline.compliance.stage import violations_of
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.routing.route import RELEASED_TRADES, REVIEW_QUEUE, RoutingOutput

AS_OF = dt.date(2026, 3, 16)
SCHEMAS = {
    "accounts": t.ACCOUNTS,
    "securities": t.SECURITIES,
    "lots": t.LOTS,
    "cash_balances": t.CASH_BALANCES,
    "cash_requests": t.CASH_REQUESTS,
    "restrictions": t.RESTRICTIONS,
    "holds": t.HOLDS,
    "halts": t.HALTS,
    "account_status": t.ACCOUNT_STATUS,
    "account_positions": t.ACCOUNT_POSITIONS,
    "security_prices": t.SECURITY_PRICES,
    "wash_sale_windows": t.WASH_SALE_WINDOWS,
}
LOT_COLUMNS = ("account_id", "lot_id", "security_id", "quantity", "cost_basis", "acquired_date")


def lot(*values: Any) -> dict[str, Any]:
    """A lot row: account, lot, security, quantity, cost basis, acquired date."""
    return dict(zip(LOT_COLUMNS, values, strict=True))


LOTS = [
    lot("A1", "A1-L1", "SEC-X", 200.0, 3000.0, dt.date(2025, 1, 2)),
    lot("A1", "A1-L2", "SEC-Y", 50.0, 500.0, dt.date(2025, 1, 2)),
    lot("A2", "A2-L1", "SEC-X", 100.0, 500.0, dt.date(2025, 1, 2)),
    lot("B1", "B1-L1", "SEC-Y", 100.0, 1000.0, dt.date(2025, 1, 2)),
]
BOOK: dict[str, list[dict[str, Any]]] = {
    "accounts": [
        {"account_id": "A1", "household_id": "H1", "registration": "taxable"},
        {"account_id": "A2", "household_id": "H1", "registration": "traditional_ira"},
        {"account_id": "B1", "household_id": "H2", "registration": "taxable"},
    ],
    "securities": [
        {"security_id": "SEC-X", "sector": "Tech", "round_lot": 100, "identical_group": "GX"},
        {"security_id": "SEC-Z", "sector": "Tech", "round_lot": 100, "identical_group": "GX"},
        {"security_id": "SEC-Y", "sector": "Tobacco", "round_lot": 1, "identical_group": None},
    ],
    "security_prices": [
        {"security_id": "SEC-X", "close": 10.0},
        {"security_id": "SEC-Z", "close": 10.0},
        {"security_id": "SEC-Y", "close": 20.0},
    ],
    "lots": LOTS,
    "account_positions": [
        {"account_id": "A1", "security_id": "SEC-X", "quantity": 200.0},
        {"account_id": "A1", "security_id": "SEC-Y", "quantity": 50.0},
        {"account_id": "A2", "security_id": "SEC-X", "quantity": 100.0},
        {"account_id": "B1", "security_id": "SEC-Y", "quantity": 100.0},
    ],
    "cash_balances": [
        {"account_id": "A1", "cash": 1000.0},
        {"account_id": "A2", "cash": 500.0},
        {"account_id": "B1", "cash": 0.0},
    ],
    "account_status": [
        {"account_id": account, "status": "ok", "reason_codes": []}
        for account in ("A1", "A2", "B1")
    ],
}


def frame(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = SCHEMAS[name]
    return t.conform(pl.DataFrame(rows, schema_overrides=schema, infer_schema_length=None), schema)


def book(**changes: list[dict[str, Any]]) -> ComplianceInputs:
    """The book above with some tables replaced (``holds=[...]`` etc.)."""
    tables = BOOK | changes
    return ComplianceInputs(**{name: frame(name, tables.get(name, [])) for name in SCHEMAS})


def trade(
    account: str, security: str, side: str, quantity: float, lot: str | None = None
) -> dict[str, Any]:
    """A proposed trade; its price (1.0) is deliberately not the close."""
    return trade_row(account, security, side, quantity, 1.0, lot)


def decisions(routes: dict[str, str] | None = None) -> pl.DataFrame:
    """Every account SCORE, reviewed 'auto', unless ``routes`` says otherwise."""
    routes = {"A1": "SCORE", "A2": "SCORE", "B1": "SCORE"} | (routes or {})
    rows = [
        {
            "account_id": account,
            "route": route,
            "reasons": ["score_above_threshold"],
            "rule": "score clears",
            "review": "auto" if route in ("MANDATE", "SCORE") else None,
            "outlier_flags": [],
        }
        for account, route in sorted(routes.items())
    ]
    return t.conform(pl.DataFrame(rows), t.ROUTING_DECISIONS)


def proposal(
    released: list[dict[str, Any]],
    queued: list[dict[str, Any]] | None = None,
    routes: dict[str, str] | None = None,
) -> RoutingOutput:
    def trades(rows: list[dict[str, Any]], schema: pl.Schema, review: str) -> pl.DataFrame:
        if not rows:
            return t.empty(schema)
        routed = [row | {"route": "SCORE", "reason": "score_above_threshold"} for row in rows]
        return t.conform(pl.DataFrame(routed).with_columns(pl.lit(review).alias("review")), schema)

    return RoutingOutput(
        decisions=decisions(routes),
        released_trades=trades(released, RELEASED_TRADES, "auto"),
        review_queue=trades(queued or [], REVIEW_QUEUE, "review"),
    )


def violations(
    trades: list[dict[str, Any]],
    inputs: ComplianceInputs | None = None,
    policy: Policy | None = None,
    routes: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Every violation of the released ``trades`` on the book."""
    return violations_of(
        proposal(trades, routes=routes), inputs or book(), policy or Policy(), AS_OF
    )


def broken(found: pl.DataFrame, rule: str) -> list[tuple[str, str | None, str | None]]:
    """(account, security, lot) of each violation of ``rule``."""
    rows = found.filter(pl.col("rule") == rule).select("account_id", "security_id", "lot_id")
    return [tuple(row) for row in rows.iter_rows()]
