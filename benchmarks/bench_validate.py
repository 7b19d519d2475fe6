"""Benchmark of validate_book on a 10k-account book.

With the generator and ingest available: generate a book, time ``load_book`` and
``validate_book`` on its last date and report the ratio (target: validation at most 2x
loading). Without them: synthesise canonical frames with numpy and time validation alone.
Import and start-up time is reported apart from the warm work.

    .venv/bin/python benchmarks/bench_validate.py [--accounts 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

AS_OF = dt.date(2026, 3, 16)


def synthetic_book(accounts: int, seed: int = 0):
    """A clean canonical book: 200 securities, about 8 lots per account, 20 days of
    price history, with one unknown security and one negative lot planted."""
    from rebalance_pipeline.book import Book

    rng = np.random.default_rng(seed)
    n_sec = 200
    sec_ids = np.array([f"SEC-{i:04d}" for i in range(n_sec)])
    account_ids = np.array([f"A{i:06d}" for i in range(accounts)])
    custodians = np.where(np.arange(accounts) % 2 == 0, "ALDER", "BIRCH")
    per_account = rng.integers(4, 13, accounts)
    owner = np.repeat(np.arange(accounts), per_account)
    security = rng.integers(0, n_sec, owner.size)
    lots = pl.DataFrame(
        {
            "account_id": account_ids[owner],
            "lot_id": [f"L{i:08d}" for i in range(owner.size)],
            "security_id": sec_ids[security],
            "symbol": [s.replace("SEC-", "S") for s in sec_ids[security]],
            "quantity": rng.integers(1, 500, owner.size).astype(float),
            "cost_basis": rng.uniform(100, 50_000, owner.size),
            "acquired_date": [dt.date(2021, 6, 1)] * owner.size,
            "custodian": custodians[owner],
            "source_file": [f"{c}/lots.csv" for c in custodians[owner]],
            "source_row": np.arange(owner.size) + 2,
        }
    )
    lots = lots.with_columns(
        security_id=pl.when(pl.col("lot_id") == "L00000005").then(None).otherwise("security_id"),
        quantity=pl.when(pl.col("lot_id") == "L00000050").then(-1.0).otherwise("quantity"),
    )
    positions = (
        lots.group_by("account_id", "security_id", "symbol", "custodian")
        .agg(pl.col("quantity").sum(), pl.col("source_row").min())
        .with_columns(source_file=pl.format("{}/positions.csv", "custodian"))
    )
    closes = rng.uniform(10, 500, n_sec)
    history_days = [
        AS_OF - dt.timedelta(days=d)
        for d in range(28, 0, -1)
        if (AS_OF - dt.timedelta(days=d)).weekday() < 5
    ]
    walk = closes * np.cumprod(1 + rng.normal(0, 0.01, (len(history_days) + 1, n_sec)), axis=0)
    history = pl.DataFrame(
        {
            "price_date": pl.Series(history_days, dtype=pl.Date).gather(
                np.repeat(np.arange(len(history_days)), n_sec)
            ),
            "security_id": np.tile(sec_ids, len(history_days)),
            "close": walk[:-1].ravel(),
            "custodian": "ALDER",
        }
    )
    prices = pl.DataFrame(
        {
            "price_date": [AS_OF] * n_sec,
            "security_id": sec_ids,
            "close": walk[-1],
            "custodian": "ALDER",
        }
    )
    book = Book.from_frames(
        AS_OF,
        accounts=pl.DataFrame(
            {
                "account_id": account_ids,
                "household_id": [f"H{i // 2:06d}" for i in range(accounts)],
                "custodian": custodians,
                "registration": "taxable",
                "model_id": "M1",
                "st_rate": 0.37,
                "lt_rate": 0.2,
            }
        ),
        securities=pl.DataFrame(
            {
                "security_id": sec_ids,
                "symbol": [s.replace("SEC-", "S") for s in sec_ids],
                "asset_class": "us_equity",
                "rating": 3,
                "round_lot": 1,
                "identical_group": sec_ids,
            }
        ),
        lots=lots,
        positions=positions,
        prices=prices,
        price_history=history,
        cash_balances=pl.DataFrame(
            {"account_id": account_ids, "cash": 1000.0, "custodian": custodians}
        ),
    )
    return book


def timed(label: str, fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<32} {seconds:8.2f} s")
    return value, seconds


def generated_book(accounts: int, workdir: Path):
    """(book, load seconds) from the generator and ingest, or None if they are missing."""
    try:
        from rebalance_pipeline.generator import GeneratorConfig, generate_book
        from rebalance_pipeline.ingest import load_book
    except ImportError:
        return None
    config = GeneratorConfig(
        accounts=accounts, households=accounts // 3, days=2, warmup_days=10, fault_rate=1.0
    )
    generated, _ = timed("generate_book (not timed work)", lambda: generate_book(config, workdir))
    as_of = generated.drop_days[-1]
    book, seconds = timed("load_book", lambda: load_book(workdir, as_of, 60))
    return book, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()

    _, _ = timed("import pandera.polars", lambda: __import__("pandera.polars"))
    from rebalance_pipeline.policy import Policy
    from rebalance_pipeline.validation import validate_book

    with tempfile.TemporaryDirectory() as tmp:
        loaded = generated_book(args.accounts, Path(tmp))
        if loaded is None:
            print("generator/ingest not available: synthetic canonical book")
            book, load_seconds = synthetic_book(args.accounts), None
        else:
            book, load_seconds = loaded
        sizes = {name: getattr(book, name).height for name in ("accounts", "lots", "positions")}
        print(", ".join(f"{name} {rows}" for name, rows in sizes.items()))
        validate_book(book, Policy())  # warm-up: first call compiles pandera checks
        result, seconds = timed("validate_book (warm)", lambda: validate_book(book, Policy()))
    suspended = result.account_status.filter(pl.col("status") == "suspended").height
    print(f"findings {result.findings.height}, suspended accounts {suspended}")
    if load_seconds:
        print(f"validate / load ratio {seconds / load_seconds:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
