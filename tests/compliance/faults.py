"""A deliberately faulty optimizer: the real one, with bad trades injected for some accounts.

The faulted accounts' own trades are replaced by the injected ones, and their results
claim a score far above any threshold, so routing sends them to trade (SCORE) as it would
any account the optimizer recommends: only compliance stands between them and the files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.optimization.problem import AccountProblem

Optimizer = Callable[..., tuple[pl.DataFrame, pl.DataFrame]]
FaultMaker = Callable[[list[AccountProblem], pl.DataFrame], list[dict[str, Any]]]
CLAIMED_SCORE_BPS = 10_000.0


def trade_row(
    account: str, security: str, side: str, quantity: float, price: float, lot: str | None = None
) -> dict[str, Any]:
    return {
        "account_id": account,
        "security_id": security,
        "side": side,
        "quantity": quantity,
        "price": price,
        "amount": quantity * price,
        "lot_id": lot,
    }


def faulty_optimizer(real: Optimizer, make_faults: FaultMaker) -> Optimizer:
    """``real`` with the trades ``make_faults(problems, real_trades)`` injected."""

    def optimize(
        problems: list[AccountProblem], *args: Any, **kwargs: Any
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        results, trades = real(problems, *args, **kwargs)
        faults = t.conform(pl.DataFrame(make_faults(problems, trades)), t.PROPOSED_TRADES)
        faulted = pl.col("account_id").is_in(faults["account_id"].implode())
        claimed = results.with_columns(
            pl.when(faulted)
            .then(pl.lit("optimal"))
            .otherwise("solve_status")
            .alias("solve_status"),
            pl.when(faulted).then(CLAIMED_SCORE_BPS).otherwise("score_bps").alias("score_bps"),
            pl.when(faulted).then(False).otherwise("touches_halted").alias("touches_halted"),
        )
        injected = pl.concat([trades.filter(~faulted), faults]).sort(
            "account_id", "side", "security_id", "lot_id", nulls_last=True
        )
        return claimed, injected

    return optimize
