"""The acceptance books' bad data, through the scenario adapter: exactly the accounts
expected SUSPENDED or MANUAL are suspended, and the MANUAL ones are queued."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline.scenario import adapter, model
from rebalance_pipeline.validation import validate_book

SCENARIOS = sorted(Path("/work/shared/acceptance/scenarios").glob("*.yaml"))


@pytest.mark.skipif(not SCENARIOS, reason="acceptance books not available")
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_suspensions_match_the_acceptance_book(path: Path) -> None:
    scenario = model.load_scenario(path)
    result = validate_book(adapter.scenario_book(scenario), adapter.scenario_policy(scenario))
    routes = {account: e.get("route") for account, e in scenario.expect.items()}
    status = result.account_status
    suspended = set(status.filter(pl.col("status") == "suspended")["account_id"])
    bad_data_routes = {"SUSPENDED", "MANUAL"}
    assert suspended == {a for a, route in routes.items() if route in bad_data_routes}
    assert set(result.manual_queue["account_id"]) == {
        a for a, route in routes.items() if route == "MANUAL"
    }
