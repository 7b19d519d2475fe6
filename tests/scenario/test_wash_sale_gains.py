"""A taxable sell opens a household wash-sale window when its gain is negative or unknown;
custodians often leave ``realized_gain`` empty, so the gain is derived where it can be.

The household of wash_sale_household.yaml: the taxable A09t sold 1,120 TMKT at $240 ten
days ago (proceeds $268,800); its IRA A09i wants 35% TMKT and holds none.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml

from rebalance_pipeline.scenario.adapter import scenario_book, scenario_policy
from rebalance_pipeline.scenario.model import load_scenario
from rebalance_pipeline.workflow import DateOutputs, run_stages

SCENARIO = Path(__file__).with_name("wash_sale_household.yaml")
TOTAL_US = {"SEC-TMKT", "SEC-TMK2"}


def run(tmp_path: Path, **sell: float) -> DateOutputs:
    data = yaml.safe_load(SCENARIO.read_text())
    data["transactions"][0].update(sell)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    scenario = load_scenario(path)
    return run_stages(scenario_book(scenario), scenario_policy(scenario))


def bought(outputs: DateOutputs, account_id: str) -> set[str]:
    routing = outputs.routing
    trades = pl.concat([routing.released_trades, routing.review_queue], how="diagonal_relaxed")
    buys = trades.filter((pl.col("account_id") == account_id) & (pl.col("side") == "buy"))
    return set(buys["security_id"])


def gain_findings(outputs: DateOutputs) -> pl.DataFrame:
    return outputs.validation.findings.filter(pl.col("check") == "unknown_realized_gain")


def test_a_loss_from_the_cost_basis_of_the_shares_sold_blocks_the_households_ira(tmp_path):
    outputs = run(tmp_path, cost_basis=298_800.0)
    assert not bought(outputs, "A09i") & TOTAL_US
    gains = outputs.features["sell_gains"]
    assert gains.select("realized_gain", "gain_source").rows() == [
        (-30_000.0, "delivered_cost_basis")  # 1,120 x 240 - 298,800
    ]
    windows = outputs.features["wash_sale_windows"]
    assert windows.select("identical_group", "blocks", "window_start", "window_end").rows() == [
        ("TOTAL_US", "buy", dt.date(2026, 3, 6), dt.date(2026, 4, 5))
    ]
    assert gain_findings(outputs).is_empty()


def test_a_sell_whose_gain_nothing_tells_opens_the_window_and_is_a_warning(tmp_path):
    outputs = run(tmp_path)
    assert not bought(outputs, "A09i") & TOTAL_US
    assert outputs.features["sell_gains"]["gain_source"].to_list() == ["unknown"]
    assert outputs.features["wash_sale_windows"]["identical_group"].to_list() == ["TOTAL_US"]
    (finding,) = gain_findings(outputs).iter_rows(named=True)
    assert finding["severity"] == "warning"
    assert finding["account_ids"] == ["A09t"]
    assert "T1" in finding["message"] and "2026-03-06" in finding["message"]
    status = dict(outputs.validation.account_status.select("account_id", "status").iter_rows())
    assert status == {"A09i": "ok", "A09t": "ok"}


@pytest.mark.parametrize(
    "sell",
    [{"realized_gain": 1_000.0}, {"cost_basis": 200_000.0}],
    ids=["delivered_gain", "gain_from_cost_basis"],
)
def test_a_gain_known_to_be_positive_opens_no_window(tmp_path, sell):
    outputs = run(tmp_path, **sell)
    assert outputs.features["wash_sale_windows"].is_empty()
    assert bought(outputs, "A09i") & TOTAL_US  # the IRA buys the group it wants
    assert gain_findings(outputs).is_empty()
