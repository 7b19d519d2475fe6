"""A small hand-built book for 2026-03-16, the input of the feature model tests.

Five accounts in three households:
- A1 taxable (H1, model M1): 60 S_US1 @100, 20 S_US2 @50, 50 S_INTL @20, 100 S_BOND (no
  close today), 10 of an unknown security; cash 1500 + 500 -> total 10_000.
- A2 traditional IRA (H1, M1): 250 S_INTL @20 -> total 5_000.
- A3 taxable (H2, M2), suspended: cash 25_000.
- A4 Roth (H2, M2): cash 3_000.
- A5 taxable (H3, M2): nothing, never traded.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book

AS_OF = dt.date(2026, 3, 16)
D = dt.date.fromisoformat
YESTERDAY = D("2026-03-13")  # the business day before AS_OF


def _accounts() -> pl.DataFrame:
    rows = [
        ("A1", "H1", "taxable", "M1", D("2026-02-01")),
        ("A2", "H1", "traditional_ira", "M1", None),
        ("A3", "H2", "taxable", "M2", D("2026-03-15")),
        ("A4", "H2", "roth", "M2", D("2026-03-05")),
        ("A5", "H3", "taxable", "M2", None),
    ]
    return pl.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "household_id": [r[1] for r in rows],
            "custodian": "alpha",
            "registration": [r[2] for r in rows],
            "model_id": [r[3] for r in rows],
            "st_rate": 0.37,
            "lt_rate": 0.2,
            "last_firm_trade_date": [r[4] for r in rows],
        }
    )


def _securities() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "security_id": ["S_US1", "S_US2", "S_INTL", "S_BOND"],
            "symbol": ["US1", "US2", "INTL", "BOND"],
            "asset_class": ["us_equity", "us_equity", "intl_equity", "us_bonds"],
            "sector": ["Tech", "Tobacco", "Diversified", "Government"],
            "identical_group": ["SP500", None, "S_INTL", "S_BOND"],
        }
    )


def _prices() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "price_date": [AS_OF, AS_OF, YESTERDAY, AS_OF, AS_OF, AS_OF, YESTERDAY, AS_OF],
            "security_id": ["S_US1", "S_US1", "S_US1", "S_US2", "S_INTL", "S_BOND", "S_BOND", None],
            "symbol": ["US1", "US1", "US1", "US2", "INTL", "BOND", "BOND", "ZZZ"],
            "close": [105.0, 100.0, 90.0, 50.0, 20.0, None, 10.0, 7.0],
            "custodian": ["beta", "alpha", "alpha", "alpha", "alpha", "alpha", "alpha", "alpha"],
        }
    )


def _positions() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": ["A1", "A1", "A1", "A1", "A1", "A2"],
            "security_id": ["S_US1", "S_US2", "S_INTL", "S_BOND", None, "S_INTL"],
            "symbol": ["US1", "US2", "INTL", "BOND", "ZZZ", "INTL"],
            "quantity": [60.0, 20.0, 50.0, 100.0, 10.0, 250.0],
        }
    )


def _lots() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": ["A1", "A1", "A1", "A1"],
            "lot_id": ["L1", "L2", "L3", "L4"],
            "security_id": ["S_US1", "S_US1", "S_BOND", None],
            "quantity": [40.0, 20.0, 100.0, 10.0],
            "cost_basis": [3000.0, 2500.0, 1000.0, 70.0],
            "acquired_date": [D("2025-03-16"), D("2025-03-15"), D("2024-01-02"), D("2024-01-02")],
        }
    )


def _transactions() -> pl.DataFrame:
    rows = [
        ("T1", "A1", "2026-02-14", "sell", "S_US1", -200.0),  # 30 days before: still blocks
        ("T2", "A1", "2026-02-13", "sell", "S_US2", -100.0),  # 31 days before: expired
        ("T3", "A2", "2026-03-10", "sell", "S_INTL", -300.0),  # IRA loss: no window
        ("T4", "A4", "2026-03-01", "buy", "S_BOND", None),  # Roth buy: blocks H2 loss sales
        ("T5", "A1", "2026-03-12", "sell", "S_INTL", 50.0),  # a gain: no window
        ("T6", "A3", "2026-03-14", "deposit", None, None),  # not a trade
        ("T7", "A3", "2026-03-17", "buy", "S_US1", None),  # after the date: ignored
    ]
    return pl.DataFrame(
        {
            "transaction_id": [r[0] for r in rows],
            "account_id": [r[1] for r in rows],
            "trade_date": [D(r[2]) for r in rows],
            "type": [r[3] for r in rows],
            "security_id": [r[4] for r in rows],
            "realized_gain": [r[5] for r in rows],
        }
    )


def book_tables() -> dict[str, pl.DataFrame]:
    book = Book.from_frames(
        AS_OF,
        accounts=_accounts(),
        securities=_securities(),
        model_targets=pl.DataFrame(
            {
                "model_id": ["M1", "M1", "M1", "M1", "M2"],
                "security_id": ["S_US1", "S_US2", "S_INTL", "S_BOND", "S_BOND"],
                "target_weight": [0.3, 0.2, 0.2, 0.3, 1.0],
            }
        ),
        model_bands=pl.DataFrame(
            {
                "model_id": ["M1", "M1"],
                "asset_class": ["us_equity", "us_bonds"],
                "min_weight": [0.45, 0.25],
                "max_weight": [0.55, 0.35],
            }
        ),
        restrictions=pl.DataFrame(
            {
                "restriction_id": ["R1", "R2"],
                "account_id": [None, "A3"],
                "household_id": ["H1", None],
                "security_id": [None, "S_INTL"],
                "sector": ["Tobacco", None],
                "reason": ["no tobacco", "client request"],
            }
        ),
        cash_requests=pl.DataFrame(
            {
                "request_id": ["C1", "C2", "C3"],
                "account_id": ["A1", "A2", "A4"],
                "amount": [1500.0, 100.0, 0.0],
                "priority": ["high", "normal", "normal"],
                "due_date": [AS_OF, D("2026-03-17"), D("2026-03-01")],
            }
        ),
        holds=pl.DataFrame(
            {
                "account_id": ["A1", "A2"],
                "start_date": [D("2026-03-10"), D("2026-03-17")],
                "end_date": [AS_OF, D("2026-03-20")],
                "reason": ["client call", "later"],
            }
        ),
        halts=pl.DataFrame(
            {
                "security_id": ["S_US1", "S_BOND"],
                "start_date": [AS_OF, D("2026-03-01")],
                "end_date": [AS_OF, D("2026-03-15")],
                "reason": ["news pending", "over"],
            }
        ),
        prices=_prices(),
        positions=_positions(),
        lots=_lots(),
        transactions=_transactions(),
        cash_balances=pl.DataFrame(
            {"account_id": ["A1", "A1", "A3", "A4"], "cash": [1500.0, 500.0, 25000.0, 3000.0]}
        ),
    )
    status = t.conform(
        pl.DataFrame(
            {
                "account_id": ["A1", "A2", "A3", "A4", "A5"],
                "status": ["ok", "ok", "suspended", "ok", "ok"],
                "reason_codes": [[], [], ["unknown_security"], [], []],
            }
        ),
        t.ACCOUNT_STATUS,
    )
    findings = t.empty(t.FINDINGS)
    return {**book.tables(), "account_status": status, "data_quality_issues": findings}
