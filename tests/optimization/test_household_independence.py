"""An account's result depends on its own household only, never on which other accounts
share the run (a fault in another account must not change what this one trades)."""

from __future__ import annotations

import polars as pl
from stage_books import account, at_target_lots, book, lot, run


def _own_rows(outputs, household_accounts: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    keep = pl.col("account_id").is_in(household_accounts)
    results = outputs.optimization_results.filter(keep).drop("solve_seconds")
    return results, outputs.proposed_trades.filter(keep)


def test_a_household_solves_the_same_alone_and_beside_a_faulty_account():
    household = [
        account("A1", at_target_lots("A1", 0.9), cash=30_000.0, household="H1"),
        account("A2", at_target_lots("A2", 0.4), household="H1", registration="roth"),
    ]
    # another household's account holds a negative quantity of the model's core fund
    faulty = account("B1", [*at_target_lots("B1")[1:], lot("B1-L-TMKT", "SEC-TMKT", -10, 0.0)])
    alone = run(book(household))
    beside = run(book([*household, faulty]))
    assert beside.validation.account_status.filter(pl.col("account_id") == "B1")[
        "status"
    ].to_list() == ["suspended"]
    ids = ["A1", "A2"]
    alone_results, alone_trades = _own_rows(alone, ids)
    beside_results, beside_trades = _own_rows(beside, ids)
    assert alone_trades.height > 0
    assert beside_results.equals(alone_results)
    assert beside_trades.equals(alone_trades)
