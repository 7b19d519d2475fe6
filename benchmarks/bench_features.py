"""Time every feature SQL model on a synthetic 10k-account date.

    .venv/bin/python benchmarks/bench_features.py [--accounts 10000] [--seed 7]

Synthesises (numpy, seeded) about 40 securities, 12 positions and 30 lots per account
and 60 days of transactions, then runs the models in dependency order and prints the
wall time of each. Import and model discovery are timed apart from the warm work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from rebalance_pipeline import tables as t  # noqa: E402
from rebalance_pipeline.book import Book  # noqa: E402
from rebalance_pipeline.features import discover_models, run_model  # noqa: E402
from rebalance_pipeline.policy import Policy  # noqa: E402

T_IMPORTED = time.perf_counter()

AS_OF = dt.date(2026, 3, 16)
ASSET_CLASSES = np.array(["us_equity", "intl_equity", "us_bonds"])
SECTORS = np.array(["Tech", "Health", "Energy", "Tobacco", "Financials", "Government"])
REGISTRATIONS = np.array(["taxable", "traditional_ira", "roth"])


def days_before(days: np.ndarray) -> pl.Series:
    """AS_OF minus each number of days, as dates."""
    return pl.select(pl.lit(AS_OF) - pl.duration(days=pl.Series(days))).to_series()


def synthesise(n_accounts: int, seed: int) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    n_securities, positions_per_account, lots_per_account = 40, 12, 30
    security_ids = np.array([f"S{i:03d}" for i in range(n_securities)])
    account_ids = np.array([f"A{i:06d}" for i in range(n_accounts)])
    securities = pl.DataFrame(
        {
            "security_id": security_ids,
            "symbol": security_ids,
            "asset_class": ASSET_CLASSES[np.arange(n_securities) % 3],
            "sector": SECTORS[rng.integers(0, len(SECTORS), n_securities)],
            # pairs of substantially identical funds
            "identical_group": [f"G{i // 2:03d}" for i in range(n_securities)],
        }
    )
    model_ids = np.array([f"M{i}" for i in range(5)])
    targets = pl.DataFrame(
        {
            "model_id": np.repeat(model_ids, 10),
            "security_id": np.concatenate(
                [rng.choice(security_ids, 10, replace=False) for _ in model_ids]
            ),
            "target_weight": 0.1,
        }
    )
    bands = pl.DataFrame(
        {
            "model_id": np.repeat(model_ids, 3),
            "asset_class": np.tile(ASSET_CLASSES, len(model_ids)),
            "min_weight": 0.2,
            "max_weight": 0.45,
        }
    )
    households = np.array([f"H{i:06d}" for i in rng.integers(0, n_accounts // 2.5, n_accounts)])
    accounts = pl.DataFrame(
        {
            "account_id": account_ids,
            "household_id": households,
            "custodian": np.where(rng.random(n_accounts) < 0.5, "alpha", "beta"),
            "registration": REGISTRATIONS[rng.integers(0, 3, n_accounts)],
            "model_id": model_ids[rng.integers(0, len(model_ids), n_accounts)],
            "st_rate": 0.37,
            "lt_rate": 0.2,
            "last_firm_trade_date": days_before(rng.integers(1, 200, n_accounts)),
        }
    )
    prices = pl.DataFrame(
        {
            "price_date": AS_OF,
            "security_id": np.concatenate([security_ids, security_ids]),
            "close": rng.uniform(10, 500, 2 * n_securities),
            "custodian": np.repeat(["alpha", "beta"], n_securities),
        }
    )
    held = np.stack(
        [rng.choice(n_securities, positions_per_account, replace=False) for _ in account_ids]
    )
    positions = pl.DataFrame(
        {
            "account_id": np.repeat(account_ids, positions_per_account),
            "security_id": security_ids[held.ravel()],
            "quantity": rng.uniform(10, 1000, held.size).round(0),
        }
    )
    lot_securities = held[:, rng.integers(0, positions_per_account, lots_per_account)]
    n_lots = lot_securities.size
    lots = pl.DataFrame(
        {
            "account_id": np.repeat(account_ids, lots_per_account),
            "lot_id": [f"L{i:08d}" for i in range(n_lots)],
            "security_id": security_ids[lot_securities.ravel()],
            "quantity": rng.uniform(1, 100, n_lots).round(0),
            "cost_basis": rng.uniform(100, 50_000, n_lots),
            "acquired_date": days_before(rng.integers(1, 2000, n_lots)),
        }
    )
    n_transactions = 10 * n_accounts
    is_sell = rng.random(n_transactions) < 0.5
    transactions = pl.DataFrame(
        {
            "transaction_id": [f"T{i:08d}" for i in range(n_transactions)],
            "account_id": account_ids[rng.integers(0, n_accounts, n_transactions)],
            "trade_date": days_before(rng.integers(0, 60, n_transactions)),
            "type": np.where(is_sell, "sell", "buy"),
            "security_id": security_ids[rng.integers(0, n_securities, n_transactions)],
            "realized_gain": np.where(is_sell, rng.normal(0, 1000, n_transactions), np.nan),
        }
    ).with_columns(pl.col("realized_gain").fill_nan(None))
    some_households = np.unique(households)[: n_accounts // 25]
    restrictions = pl.DataFrame(
        {
            "restriction_id": [f"R{i:06d}" for i in range(len(some_households))],
            "household_id": some_households,
            "sector": "Tobacco",
        }
    )
    requesting = rng.choice(account_ids, n_accounts // 20, replace=False)
    cash_requests = pl.DataFrame(
        {
            "request_id": [f"C{i:06d}" for i in range(len(requesting))],
            "account_id": requesting,
            "amount": rng.uniform(1_000, 50_000, len(requesting)),
            "priority": np.where(rng.random(len(requesting)) < 0.2, "high", "normal"),
            "due_date": AS_OF,
        }
    )
    book = Book.from_frames(
        AS_OF,
        accounts=accounts,
        securities=securities,
        model_targets=targets,
        model_bands=bands,
        restrictions=restrictions,
        cash_requests=cash_requests,
        holds=pl.DataFrame(
            {"account_id": account_ids[:50], "start_date": AS_OF, "end_date": AS_OF}
        ),
        halts=pl.DataFrame(
            {"security_id": security_ids[:2], "start_date": AS_OF, "end_date": AS_OF}
        ),
        prices=prices,
        positions=positions,
        lots=lots,
        transactions=transactions,
        cash_balances=pl.DataFrame(
            {"account_id": account_ids, "cash": rng.uniform(0, 20_000, n_accounts)}
        ),
    )
    status = t.conform(
        pl.DataFrame(
            {
                "account_id": account_ids,
                "status": np.where(rng.random(n_accounts) < 0.02, "suspended", "ok"),
            }
        ),
        t.ACCOUNT_STATUS,
    )
    return {**book.tables(), "account_status": status}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    models = discover_models()
    t_discovered = time.perf_counter()
    inputs = synthesise(args.accounts, args.seed)
    t_synthesised = time.perf_counter()
    print(f"import {T_IMPORTED - T_START:.2f} s, discover {t_discovered - T_IMPORTED:.2f} s")
    print(
        f"synthesised {args.accounts} accounts in {t_synthesised - t_discovered:.2f} s: "
        + ", ".join(f"{name} {len(inputs[name])}" for name in ("positions", "lots", "transactions"))
    )
    policy = Policy()
    available = dict(inputs)
    total = 0.0
    for model in models:
        started = time.perf_counter()
        available[model.name] = run_model(model, available, AS_OF, policy)
        elapsed = time.perf_counter() - started
        total += elapsed
        print(f"{model.name:<24} {elapsed:7.3f} s  {len(available[model.name]):>9} rows")
    print(f"{'all models':<24} {total:7.3f} s  (target <= 10 s)")


if __name__ == "__main__":
    main()
