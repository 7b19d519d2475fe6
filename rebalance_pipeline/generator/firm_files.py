"""The firm's files of a generated book: account master, securities, models, holds,
halts, restrictions and cash requests.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from rebalance_pipeline.generator.market import model_bands, model_targets

FIRM_EFFECTIVE_FROM = dt.date(2020, 1, 1)
HALTED_SECURITY = "SEC-HLTH"  # held through the M-GLOBAL model


def firm_files(
    rng: np.random.Generator,
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
    drop_days: list[dt.date],
) -> dict[str, pl.DataFrame]:
    ids = accounts["account_id"]
    restricted = ids.gather(np.sort(rng.choice(ids.len(), max(1, ids.len() // 10), replace=False)))
    household = accounts["household_id"][int(rng.integers(0, accounts.height))]
    restrictions = pl.DataFrame(
        {
            "account_id": [*restricted.to_list(), None],
            "household_id": [None] * restricted.len() + [household],
            "security_id": None,
            "sector": "Tobacco",
            "reason": "client excludes tobacco",
            "effective_from": FIRM_EFFECTIVE_FROM,
            "effective_to": None,
        },
        schema_overrides={
            "account_id": pl.String,
            "household_id": pl.String,
            "security_id": pl.String,
            "effective_to": pl.Date,
        },
    ).with_row_index("n", 1)
    restrictions = restrictions.select(
        pl.format("R{}", pl.col("n").cast(pl.String).str.zfill(4)).alias("restriction_id"),
        *restrictions.columns[1:],
    )
    requesters = np.sort(rng.choice(ids.len(), max(2, ids.len() // 50), replace=False))
    created = [drop_days[int(i)] for i in rng.integers(0, len(drop_days), requesters.size)]
    cash_requests = pl.DataFrame(
        {
            "request_id": [f"CR{i + 1:04d}" for i in range(requesters.size)],
            "account_id": ids.gather(requesters),
            "amount": np.round(accounts["value"].gather(requesters).to_numpy() * 0.02, -2),
            "priority": np.where(rng.random(requesters.size) < 0.35, "high", "normal"),
            "due_date": [
                d + dt.timedelta(days=int(k))
                for d, k in zip(created, rng.integers(0, 6, requesters.size), strict=True)
            ],
            "created_date": created,
        }
    )
    hold_start = drop_days[len(drop_days) // 3]
    holds = pl.DataFrame(
        {
            "account_id": [ids[int(rng.integers(0, ids.len()))]],
            "start_date": [hold_start],
            "end_date": [hold_start + dt.timedelta(days=7)],
            "reason": ["client transferring assets in"],
        }
    )
    halt_start = drop_days[len(drop_days) // 2]
    halts = pl.DataFrame(
        {
            "security_id": [HALTED_SECURITY],
            "start_date": [halt_start],
            "end_date": [halt_start + dt.timedelta(days=3)],
            "reason": ["exchange trading halt"],
        }
    )
    return {
        "accounts": accounts.select(
            "account_id",
            "household_id",
            "custodian",
            "registration",
            "model_id",
            "st_rate",
            "lt_rate",
            "opened_date",
            effective_from=pl.col("opened_date"),
        ),
        "securities": securities,
        "model_targets": model_targets().with_columns(effective_from=pl.lit(FIRM_EFFECTIVE_FROM)),
        "model_bands": model_bands(securities).with_columns(
            effective_from=pl.lit(FIRM_EFFECTIVE_FROM)
        ),
        "restrictions": restrictions,
        "cash_requests": cash_requests,
        "holds": holds,
        "halts": halts,
    }
