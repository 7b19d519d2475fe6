"""A transition over several dates (transition.yaml) and how a book carries one date's
released trades into the next (scenario.dates)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from rebalance_pipeline.scenario import expectation_mismatches, run_scenario
from rebalance_pipeline.scenario.dates import advance
from rebalance_pipeline.scenario.model import LaterDate, Scenario

HERE = Path(__file__).parent
BUDGET = 20_000.0  # transition.yaml's annual gain budget


@pytest.fixture(scope="module")
def transition() -> dict:
    return run_scenario(HERE / "transition.yaml")


def _progress(result: dict) -> list[tuple[str, dict]]:
    """(date, T1's transition progress before that date's trades) for every later date."""
    return [(day["as_of"], day["accounts"]["T1"]["transition"]) for day in result["dates"]]


def test_the_share_in_model_securities_never_falls_and_reaches_the_model(transition):
    shares = [progress["model_share"] for _, progress in _progress(transition)]
    assert shares == sorted(shares)
    assert shares[-1] >= 0.95


def test_no_year_realizes_more_than_its_budget(transition):
    """Gains since the start, seen on each date before its trades: 2026's sells within one
    budget, 2027's within two."""
    for day, progress in _progress(transition):
        years = int(day[:4]) - 2025
        assert progress["realized_gain_since_start"] <= years * BUDGET + 0.01


def test_under_no_budget_of_its_own_the_harvested_loss_pays_for_the_least_gains(tmp_path):
    """A budget of 0: the $30,000 loss is the only room; it goes to the lots of least
    gain per dollar (A-LOW 10%, C 25%) before the high-gain lot (35%)."""
    data = yaml.safe_load((HERE / "transition.yaml").read_text())
    data |= {"policy": {"gain_budget_usd": 0}, "dates": [], "expect": {}}
    path = tmp_path / "no_budget.yaml"
    path.write_text(yaml.safe_dump(data))
    sold = {
        trade["lot_id"]: trade["quantity"]
        for trade in run_scenario(path)["accounts"]["T1"]["trades"]
        if trade["side"] == "sell"
    }
    assert sold["T1-L-B-LOSS"] == 3000
    assert sold["T1-L-A-LOW"] == 1500
    assert sold["T1-L-C"] == 250
    # what is left of the loss after 27,500 of gains (and the costs) at $35 a share
    assert sold.get("T1-L-A-HIGH", 0) <= 2_500 / 35


SMALL = {
    "name": "small",
    "as_of": "2026-01-05",
    "securities": [
        {"id": "X", "symbol": "X", "asset_class": "us_equity", "price": 10.0},
        {"id": "Y", "symbol": "Y", "asset_class": "us_equity", "price": 20.0},
    ],
    "models": {"M": {"targets": {"Y": 1.0}}},
    "accounts": [
        {
            "id": acc,
            "household": "H",
            "registration": "taxable",
            "model": "M",
            "st_rate": 0.37,
            "lt_rate": 0.2,
            "cash": 0.0,
            "lots": [
                {"id": f"{acc}-L0007", "security": "X", "quantity": 100, "cost_basis": 600.0,
                 "acquired": "2020-01-02"},
            ],
        }
        for acc in ("R", "Q")
    ],
    "dates": [{"as_of": "2026-01-12", "prices": {"X": 11.0}, "expect": {"R": {"no_trades": True}}}],
}  # fmt: skip
SOLD = {
    "review": "auto",
    "trades": [
        {"security": "X", "side": "sell", "quantity": 40.0, "lot_id": "R-L0007"},
        {"security": "Y", "side": "buy", "quantity": 21.0, "lot_id": None},
    ],
}
LATER = LaterDate.model_validate(SMALL["dates"][0])


def test_a_later_date_starts_from_the_released_trades_filled_at_its_prices():
    """R's sell of 40 X fills at the later date's $11 (5 bps of costs), its buy at Y's
    unchanged $20; Q's trades wait for review and are not carried."""
    queued = SOLD | {"review": "review"}
    later = advance(Scenario.model_validate(SMALL), {"R": SOLD, "Q": queued}, LATER)
    r, q = later.accounts
    assert later.as_of == LATER.as_of and later.expect == LATER.expect
    lots = [(lot.id, lot.security, lot.quantity, lot.cost_basis, lot.acquired) for lot in r.lots]
    assert lots == [
        ("R-L0007", "X", 60.0, 360.0, dt.date(2020, 1, 2)),
        ("R-L0008", "Y", 21.0, 420.0, LATER.as_of),  # numbered after the listed lot's 7
    ]
    assert r.cash == pytest.approx(440.0 - 0.22 - 420.0 - 0.21)
    assert r.last_trade == LATER.as_of
    assert q == Scenario.model_validate(SMALL).accounts[1]
    sell = later.transactions[0]
    assert (sell.account, sell.side, sell.quantity, sell.price) == ("R", "sell", 40.0, 11.0)
    assert sell.realized_gain == pytest.approx(440.0 - 0.22 - 240.0)
    assert {s.id: s.price for s in later.securities} == {"X": 11.0, "Y": 20.0}


def test_a_later_date_s_expectations_are_judged_on_its_own_result():
    result = {
        "accounts": {"R": SOLD, "Q": {"review": "auto", "trades": []}},
        "dates": [{"as_of": "2026-01-12", "accounts": {"R": SOLD}}],
    }
    assert expectation_mismatches(Scenario.model_validate(SMALL), result) == [
        "2026-01-12 R: expected no trades, got 2"
    ]


def test_a_transition_start_after_the_date_suspends_that_account_only(tmp_path: Path):
    data = json.loads(json.dumps(SMALL)) | {"dates": []}
    data["accounts"][0]["transition_start"] = "2026-01-06"
    path = tmp_path / "future_start.yaml"
    path.write_text(yaml.safe_dump(data))
    accounts = run_scenario(path)["accounts"]
    assert accounts["R"]["route"] == "SUSPENDED"
    assert "data:contract_violation" in accounts["R"]["reasons"]
    assert accounts["Q"]["route"] != "SUSPENDED"
