"""Known-answer books of the long-term deferral, the rebalance types, the gain budget and
a transition over several dates, run through the daily stages and judged by their own
``expect:`` blocks; the deferral book also run with the deferral off, where the lot it
keeps is sold, and the gain-budget book with the year's history changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rebalance_pipeline.scenario import expectation_mismatches, load_scenario, run_scenario

HERE = Path(__file__).parent
BOOKS = [
    "long_term_deferral.yaml",
    "rebalance_types.yaml",
    "gain_budget.yaml",
    "transition.yaml",
]


@pytest.mark.parametrize("book", BOOKS)
def test_the_book_meets_its_expectations(book: str):
    path = HERE / book
    assert expectation_mismatches(load_scenario(path), run_scenario(path)) == []


@pytest.mark.parametrize("days", [None, 0, 9])
def test_without_a_window_reaching_the_lot_it_is_sold(tmp_path: Path, days: int | None):
    """No deferral, a deferral of 0 days or one of 9 days (the lot turns long-term in 10)."""
    data = yaml.safe_load((HERE / "long_term_deferral.yaml").read_text())
    data["policy"] = {} if days is None else {"long_term_deferral_days": days}
    path = tmp_path / "no_deferral.yaml"
    path.write_text(yaml.safe_dump(data))
    sold = {
        trade["lot_id"]
        for trade in run_scenario(path)["accounts"]["AD"]["trades"]
        if trade["side"] == "sell"
    }
    assert "AD-L-TMKT" in sold


def _gain_budget_book(tmp_path: Path, **changes) -> dict:
    """The gain-budget book's result with top-level keys changed."""
    data = yaml.safe_load((HERE / "gain_budget.yaml").read_text()) | changes
    path = tmp_path / "gain_budget_changed.yaml"
    path.write_text(yaml.safe_dump(data))
    return run_scenario(path)["accounts"]


def _shares_sold(account: dict) -> float:
    return sum(trade["quantity"] for trade in account["trades"] if trade["side"] == "sell")


def test_without_the_harvested_loss_the_budget_stops_gl_where_it_stops_gb(tmp_path: Path):
    accounts = _gain_budget_book(tmp_path, transactions=[])
    assert _shares_sold(accounts["GL"]) == _shares_sold(accounts["GB"])
    assert _shares_sold(accounts["GL"]) < _shares_sold(accounts["GN"])


def test_a_sell_of_unknown_gain_this_year_leaves_no_room_for_net_gains(tmp_path: Path):
    """The year is not fully seen: GB's sells may realize no net gain (the conservative
    assumption of gain_budgets.sql); GN, without a budget, trades as before."""
    unknown = {
        "account": "GB",
        "date": "2026-02-05",
        "security": "SEC-OLD",
        "side": "sell",
        "quantity": 10,
        "price": 40.0,
    }
    accounts = _gain_budget_book(tmp_path, transactions=[unknown])
    assert _shares_sold(accounts["GB"]) == 0
    assert _shares_sold(accounts["GN"]) > 0


def test_a_lookback_window_short_of_january_leaves_no_room_for_net_gains(tmp_path: Path):
    """In June the default 60-business-day lookback does not reach 1 January."""
    accounts = _gain_budget_book(
        tmp_path,
        as_of="2026-06-15",
        cash_requests=[
            {"account": "GC", "amount": 50000.0, "priority": "high", "due": "2026-06-15"}
        ],
    )
    assert _shares_sold(accounts["GB"]) == 0
    assert _shares_sold(accounts["GN"]) > 0


def test_an_invalid_gain_budget_suspends_its_account_only(tmp_path: Path):
    data = yaml.safe_load((HERE / "gain_budget.yaml").read_text())
    data["accounts"][0]["gain_budget"] = "-5000"
    path = tmp_path / "invalid_budget.yaml"
    path.write_text(yaml.safe_dump(data))
    accounts = run_scenario(path)["accounts"]
    assert accounts["GB"]["route"] == "SUSPENDED"
    assert "data:invalid_gain_budget" in accounts["GB"]["reasons"]
    assert accounts["GN"]["route"] == "SCORE"
    assert accounts["GC"]["route"] == "MANDATE"


def test_the_overrun_of_a_cash_request_is_named_with_its_amount():
    """GC sells 201 EQ ($50,000 and the costs, rounded up to a share) at $50 of gain a
    share (bought at $200): $10,050 realized against its $5,000 budget (1.25% of
    $400,000)."""
    gc = run_scenario(HERE / "gain_budget.yaml")["accounts"]["GC"]
    assert gc["rule"].endswith("; net realized gains $5,050.00 over the gain budget")
    assert "gain_budget_overrun" in gc["outlier_flags"]


@pytest.mark.parametrize(
    ("group_budget", "shares"),
    [
        ({"gain_budget_pct": 2.0}, 128),  # 2% of $400,000: $8,000, 128 shares at $62.50
        ({"gain_budget_usd": 8000.0, "gain_budget_pct": 1.0}, 64),  # the smaller: $4,000
    ],
)
def test_a_group_budget_in_percent_of_value(tmp_path: Path, group_budget: dict, shares: int):
    accounts = _gain_budget_book(tmp_path, policy=group_budget)
    assert _shares_sold(accounts["GB"]) == shares
