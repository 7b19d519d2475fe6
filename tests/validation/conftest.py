"""A small healthy book (three accounts, two custodians) that each test breaks in one way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import pytest

from rebalance_pipeline.book import Book

AS_OF = dt.date(2026, 3, 16)
ON_TIME = dt.datetime(2026, 3, 17, 5, 0, tzinfo=dt.UTC)


def _lots() -> pl.DataFrame:
    rows = [
        ("A1", "L1", "SEC-A", "AAA", 100.0, "C1", "c1/lots.csv", 2),
        ("A1", "L2", "SEC-B", "BBB", 50.0, "C1", "c1/lots.csv", 3),
        ("A2", "L3", "SEC-A", "AAA", 10.0, "C1", "c1/lots.csv", 4),
        ("A3", "L4", "SEC-C", "CCC", 20.0, "C2", "c2/lots.csv", 2),
    ]
    cols = ["account_id", "lot_id", "security_id", "symbol", "quantity"]
    cols += ["custodian", "source_file", "source_row"]
    return pl.DataFrame(rows, schema=cols, orient="row").with_columns(
        cost_basis=pl.col("quantity") * 8.0, acquired_date=pl.lit(dt.date(2021, 6, 1))
    )


def _positions() -> pl.DataFrame:
    rows = [
        ("A1", "SEC-A", "AAA", 100.0, "C1", "c1/positions.csv", 2),
        ("A1", "SEC-B", "BBB", 50.0, "C1", "c1/positions.csv", 3),
        ("A2", "SEC-A", "AAA", 10.0, "C1", "c1/positions.csv", 4),
        ("A3", "SEC-C", "CCC", 20.0, "C2", "c2/positions.csv", 2),
    ]
    cols = ["account_id", "security_id", "symbol", "quantity"]
    cols += ["custodian", "source_file", "source_row"]
    return pl.DataFrame(rows, schema=cols, orient="row")


def _source_files() -> pl.DataFrame:
    rows = [
        ("C1", "lots", "c1/lots.csv", 3),
        ("C1", "positions", "c1/positions.csv", 3),
        ("C1", "prices", "c1/prices.csv", 3),
        ("C2", "lots", "c2/lots.csv", 1),
        ("C2", "positions", "c2/positions.csv", 1),
    ]
    return pl.DataFrame(
        rows, schema=["custodian", "kind", "source_file", "detail_rows"], orient="row"
    ).with_columns(
        file_date=pl.lit(AS_OF),
        arrived_at=pl.lit(ON_TIME),
        trailer_rows=pl.col("detail_rows"),
        trailer_checksum=pl.lit("abc"),
        computed_checksum=pl.lit("abc"),
        status=pl.lit("ok"),
    )


def healthy_frames() -> dict[str, pl.DataFrame]:
    accounts = pl.DataFrame(
        {
            "account_id": ["A1", "A2", "A3"],
            "household_id": ["H1", "H1", "H3"],
            "custodian": ["C1", "C1", "C2"],
            "registration": ["taxable", "roth", "taxable"],
            "model_id": ["M1", "M1", "M1"],
            "st_rate": [0.37, 0.0, 0.3],
            "lt_rate": [0.2, 0.0, 0.15],
        }
    )
    securities = pl.DataFrame(
        {
            "security_id": ["SEC-A", "SEC-B", "SEC-C"],
            "symbol": ["AAA", "BBB", "CCC"],
            "asset_class": ["us_equity", "us_bonds", "intl_equity"],
            "sector": ["Broad", "Fixed Income", "Broad"],
            "rating": [4, 4, 3],
            "round_lot": [1, 1, 1],
            "identical_group": ["A", "B", "C"],
        }
    )
    prices = pl.DataFrame(
        {
            "price_date": [AS_OF] * 3,
            "security_id": ["SEC-A", "SEC-B", "SEC-C"],
            "symbol": ["AAA", "BBB", "CCC"],
            "close": [10.0, 20.0, 30.0],
            "custodian": ["C1"] * 3,
            "source_file": ["c1/prices.csv"] * 3,
            "source_row": [2, 3, 4],
        }
    )
    cash = pl.DataFrame(
        {
            "account_id": ["A1", "A2", "A3"],
            "cash": [1000.0, 2000.0, 3000.0],
            "custodian": ["C1", "C1", "C2"],
        }
    )
    return {
        "accounts": accounts,
        "securities": securities,
        "prices": prices,
        "lots": _lots(),
        "positions": _positions(),
        "cash_balances": cash,
        "source_files": _source_files(),
        "model_targets": pl.DataFrame(
            {
                "model_id": ["M1", "M1", "M1"],
                "security_id": ["SEC-A", "SEC-B", "SEC-C"],
                "target_weight": [0.5, 0.3, 0.2],
            }
        ),
    }


BookFactory = Callable[..., Book]


@pytest.fixture
def make_book() -> BookFactory:
    """make_book(lots=frame, ...) -> the healthy book with those tables replaced; a
    callable value gets the healthy frame and returns the replacement."""

    def build(**changes: pl.DataFrame | Callable[[pl.DataFrame], pl.DataFrame]) -> Book:
        frames = healthy_frames()
        for name, change in changes.items():
            base = frames.get(name, pl.DataFrame())
            frames[name] = change(base) if callable(change) else change
        return Book.from_frames(AS_OF, **frames)

    return build
