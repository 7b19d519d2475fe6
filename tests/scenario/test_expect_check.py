"""``scenario run --check`` judges the ``expect:`` block as the acceptance checker does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from test_acceptance import ACCEPTANCE, SCENARIOS
from test_scenario_input import BOOK
from typer.testing import CliRunner

from rebalance_pipeline.cli import app
from rebalance_pipeline.scenario import expectation_mismatches, load_scenario

ROUTES = ["SUSPENDED", "MANUAL", "HOLD", "HALT", "MANDATE", "SCORE", "NO_TRADE"]


def _check(tmp_path: Path, expect: dict) -> tuple[int, str]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(BOOK | {"expect": expect}))
    result = CliRunner().invoke(
        app, ["scenario", "run", str(scenario), "--out", str(tmp_path / "r.json"), "--check"]
    )
    return result.exit_code, result.output


def test_check_lists_every_expectation_not_met(tmp_path: Path):
    code, output = _check(tmp_path, {"A": {"route_not": ROUTES, "sells_everything": True}})
    assert code == 1
    lines = output.strip().splitlines()
    assert lines[-3] == "tiny: 2 expectations not met"
    assert lines[-2].startswith("A: route ") and lines[-2].endswith(f", expected none of {ROUTES}")
    assert lines[-1] == "A: unknown expectation 'sells_everything'"


def test_check_passes_when_every_expectation_is_met(tmp_path: Path):
    code, output = _check(tmp_path, {"A": {"route_not": []}})
    assert code == 0, output
    assert output.strip().splitlines()[-1] == "tiny: every expectation met"


def _acceptance_checker():
    spec = importlib.util.spec_from_file_location("acceptance_check", ACCEPTANCE / "check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _results(data: dict) -> list[dict]:
    """Results of every shape the expectations judge: idle accounts, every lot sold, half
    of every lot sold, odd lots of every model security bought."""
    price = {s["id"]: s.get("price") or 0.0 for s in data["securities"]}

    def account(a: dict, n: int, route: str, trades: list[dict]) -> dict:
        flow = sum(
            (-1 if t["side"] == "buy" else 1) * t["quantity"] * price[t["security"]]
            for t in trades
            if t["security"] in price
        )
        return {
            "route": route,
            "review": ["auto", "review"][n % 2],
            "review_policy": ["none", "outliers", "all"][n % 3],
            "score_bps": 10.0 * n,
            "threshold_bps": 30.0 - 5 * n,
            "cash_after": a["cash"] + flow,
            "trades": trades,
        }

    def sells(a: dict, fraction: float) -> list[dict]:
        return [
            {
                "security": lot["security"],
                "side": "sell",
                "lot_id": lot["id"],
                "quantity": lot["quantity"] * fraction,
            }
            for lot in a["lots"]
        ]

    def buys(a: dict) -> list[dict]:
        targets = data["models"][a["model"]]["targets"]
        return [{"security": s, "side": "buy", "lot_id": None, "quantity": 7} for s in targets]

    shapes = [
        ("NO_TRADE", lambda a: []),
        ("SCORE", lambda a: sells(a, 1.0)),
        ("SCORE", lambda a: sells(a, 0.5)),
        ("MANDATE", buys),
    ]
    return [
        {
            "accounts": {
                a["id"]: account(a, n, route, trades(a)) for n, a in enumerate(data["accounts"])
            }
        }
        for route, trades in shapes
    ]


@pytest.mark.skipif(not SCENARIOS, reason=f"no acceptance scenarios under {ACCEPTANCE}")
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_mismatches_are_the_acceptance_checkers_expectation_failures(path: Path):
    checker = _acceptance_checker()
    data = yaml.safe_load(path.read_text())
    for result in _results(data):
        judged = checker.Check(data, result)
        judged.expectations()
        expected = [f.removeprefix(f"{data['name']} ") for f in judged.failures]
        assert expectation_mismatches(load_scenario(path), result) == expected
