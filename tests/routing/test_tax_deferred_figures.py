"""Taxes, realized gains and harvested losses exist only where they have a tax effect."""

from __future__ import annotations

import polars as pl
import pytest
from stage_books import account, book, decision, lot, result, run

from rebalance_pipeline.reporting.summary import summary_report

# us_equity at about 63% of a [45%, 55%] band, its lots far above their cost
OVERWEIGHT = [
    lot("{a}-L-TMKT", "SEC-TMKT", 2000, 100000.0),
    lot("{a}-L-LCAP", "SEC-LCAP", 1000, 20000.0),
    lot("{a}-L-INTL", "SEC-INTL", 1600, 64000.0),
    lot("{a}-L-BOND", "SEC-BOND", 2500, 200000.0),
    lot("{a}-L-BND2", "SEC-BND2", 1000, 100000.0),
]


def lots_of(account_id: str) -> list[dict]:
    return [{**held, "id": held["id"].format(a=account_id)} for held in OVERWEIGHT]


@pytest.fixture(scope="module")
def outputs():
    accounts = [
        account(account_id, lots_of(account_id), registration=registration)
        for account_id, registration in (("T", "taxable"), ("I", "traditional_ira"), ("R", "roth"))
    ]
    return run(book(accounts))


@pytest.mark.parametrize("account_id", ["I", "R"])
def test_tax_deferred_accounts_report_no_gains_taxes_or_gain_flags(outputs, account_id):
    routed = decision(outputs, account_id)
    assert routed["route"] == "MANDATE"
    sells = outputs.proposed_trades.filter(
        (pl.col("account_id") == account_id) & (pl.col("side") == "sell")
    )
    assert sells.height > 0
    assert sells["realized_gain"].null_count() == sells.height
    solved = result(outputs, account_id)
    assert solved["realized_gain_st"] is None and solved["realized_gain_lt"] is None
    assert solved["cost_tax_usd"] == 0.0 and solved["benefit_tax_loss_usd"] == 0.0
    assert not {"realized_gain_usd", "realized_gain_pct"} & set(routed["outlier_flags"])


def test_the_taxable_twin_reports_its_gains(outputs):
    solved = result(outputs, "T")
    assert solved["realized_gain_lt"] > 0
    sells = outputs.proposed_trades.filter(
        (pl.col("account_id") == "T") & (pl.col("side") == "sell")
    )
    assert sells["realized_gain"].null_count() == 0


def test_the_summary_counts_gains_of_taxable_accounts_only(outputs):
    released = outputs.routing.released_trades
    taxable_gains = released.filter((pl.col("account_id") == "T") & (pl.col("realized_gain") > 0))[
        "realized_gain"
    ].sum()
    report = summary_report(outputs.routing.decisions, released, outputs.optimization_results)
    assert f"realized gains: ${taxable_gains:,.2f}" in report
