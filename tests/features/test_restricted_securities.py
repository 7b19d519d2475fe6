"""restricted_securities.sql: whom a restriction protects and what it forbids."""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.features.models import SQL_DIR, load_model
from rebalance_pipeline.features.runner import run_model
from rebalance_pipeline.policy import Policy


def test_an_account_restriction_protects_that_account_a_household_one_its_accounts():
    accounts = pl.DataFrame(
        {"account_id": ["A1", "A2", "A3", None], "household_id": ["H1", "H1", "H2", "H1"]}
    )
    securities = pl.DataFrame(
        {"security_id": ["S1", "S2", "S3"], "sector": ["Energy", "Tobacco", "Tobacco"]}
    )
    restrictions = pl.DataFrame(
        {
            "restriction_id": ["R1", "R2", "R3", "R4"],
            # R1 names an account and another household: the account alone is protected
            "account_id": ["A3", None, None, "A9"],
            "household_id": ["H1", "H1", None, None],
            "security_id": ["S1", None, "S1", "S1"],
            "sector": [None, "Tobacco", None, None],
        }
    )
    inputs = {
        "accounts": t.conform(accounts, t.ACCOUNTS),
        "securities": t.conform(securities, t.SECURITIES),
        "restrictions": t.conform(restrictions, t.RESTRICTIONS),
    }
    model = load_model(SQL_DIR / "restricted_securities.sql")
    restricted = run_model(model, inputs, dt.date(2026, 3, 16), Policy())
    assert restricted.rows() == [
        ("A1", "S2", "R2"),
        ("A1", "S3", "R2"),
        ("A2", "S2", "R2"),
        ("A2", "S3", "R2"),
        ("A3", "S1", "R1"),
    ]
