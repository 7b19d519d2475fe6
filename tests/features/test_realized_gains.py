"""The net realized gains of each account's sells in a period, and its sells of unknown
gain: one ``realized_gains`` table macro for the gain budgets (the calendar year) and
the transitions (since the transition's start)."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from rebalance_pipeline.features.macros import create_macros

D = dt.date(2026, 3, 16)
YEAR_START = dt.date(2026, 1, 1)

# (account_id, trade_date, realized_gain)
SELLS = [
    ("A", dt.date(2025, 12, 31), 1000.0),  # the day before A's period: not counted
    ("A", YEAR_START, 250.5),  # its first day
    ("A", dt.date(2026, 2, 10), -100.25),  # a loss counts against the gains
    ("A", D, None),  # its last day, gain unknown: counted as a sell, adds 0
    ("A", D + dt.timedelta(days=1), 40.0),  # the day after: not counted
    ("B", dt.date(2026, 1, 15), 500.0),  # before B's period: B has no sell in it
    ("C", dt.date(2026, 2, 2), 75.0),  # C has no period
    ("L", dt.date(2026, 1, 5), -30.0),
    ("L", dt.date(2026, 3, 2), -20.0),
]
# (account_id, first_day, last_day)
PERIODS = [
    ("A", YEAR_START, D),
    ("B", dt.date(2026, 2, 1), D),
    ("L", YEAR_START, D),
]


def test_the_macro_on_hand_made_sells():
    sells = pl.DataFrame(
        SELLS, schema=["account_id", "trade_date", "realized_gain"], orient="row"
    ).cast({"realized_gain": pl.Float64})
    periods = pl.DataFrame(PERIODS, schema=["account_id", "first_day", "last_day"], orient="row")
    with duckdb.connect() as connection:
        create_macros(connection)
        connection.register("sells", sells.to_arrow())
        connection.register("periods", periods.to_arrow())
        rows = connection.sql(
            "select * from realized_gains(sells, periods) order by account_id"
        ).fetchall()
    assert rows == [("A", 150.25, 1), ("L", -50.0, 0)]
