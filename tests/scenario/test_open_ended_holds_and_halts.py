"""A hold or halt without an end date (``end: null`` or no ``end``) is open-ended: it is in
force through the real stages, whichever way the scenario leaves the end out."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from rebalance_pipeline.scenario.adapter import scenario_book, scenario_policy
from rebalance_pipeline.scenario.model import load_scenario
from rebalance_pipeline.workflow import run_stages

SCENARIO = Path(__file__).with_name("open_ended_hold_and_halt.yaml")


def _without_end(entries: list[dict]) -> list[dict]:
    return [{key: value for key, value in entry.items() if key != "end"} for entry in entries]


@pytest.fixture(params=["end_null", "no_end"])
def outputs(request, tmp_path: Path):
    data = yaml.safe_load(SCENARIO.read_text())
    if request.param == "no_end":
        data["holds"], data["halts"] = _without_end(data["holds"]), _without_end(data["halts"])
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    scenario = load_scenario(path)
    return run_stages(scenario_book(scenario), scenario_policy(scenario))


def _routes(outputs) -> dict[str, str]:
    return dict(outputs.routing.decisions.select("account_id", "route").iter_rows())


def _traded(outputs) -> pl.DataFrame:
    routing = outputs.routing
    return pl.concat(
        [
            routing.released_trades.select("account_id", "security_id"),
            routing.review_queue.select("account_id", "security_id"),
        ]
    )


def test_an_open_ended_hold_stops_the_account(outputs):
    assert _routes(outputs)["AO"] == "HOLD"
    assert "AO" not in _traded(outputs)["account_id"].to_list()


def test_an_open_ended_halt_skips_the_account_whose_proposal_trades_it(outputs):
    assert _routes(outputs)["AH"] == "HALT"
    assert "SEC-XYZ" not in _traded(outputs)["security_id"].to_list()


def test_an_account_the_halt_does_not_concern_still_trades(outputs):
    assert _routes(outputs)["AF"] == "MANDATE"
    assert "AF" in _traded(outputs)["account_id"].to_list()
