"""A scenario file we have never seen: a result, or a clear error naming the wrong field."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from rebalance_pipeline.calendar import exchange_calendar
from rebalance_pipeline.cli import app

BOOK = {
    "name": "tiny",
    "as_of": "2026-03-16",
    "securities": [
        {"id": "S1", "symbol": "S1", "asset_class": "us_equity", "price": 10.0},
        {"id": "S2", "symbol": "S2", "asset_class": "us_bonds", "price": 20.0},
    ],
    "models": {"M": {"targets": {"S1": 0.5, "S2": 0.5}}},
    "accounts": [
        {
            "id": "A",
            "household": "H",
            "registration": "roth",
            "model": "M",
            "st_rate": 0.3,
            "lt_rate": 0.15,
            "cash": 100.0,
            "lots": [
                {
                    "id": "L1",
                    "security": "S1",
                    "quantity": 100,
                    "cost_basis": 900.0,
                    "acquired": "2020-01-02",
                }
            ],
        }
    ],
}


def _run(tmp_path: Path, book: dict) -> tuple[int, str]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(book))
    out = tmp_path / "result.json"
    result = CliRunner().invoke(app, ["scenario", "run", str(scenario), "--out", str(out)])
    text = result.output + (out.read_text() if out.exists() else "")
    return result.exit_code, text


def test_a_minimal_scenario_with_only_the_required_keys_runs(tmp_path: Path) -> None:
    code, _ = _run(tmp_path, BOOK)
    assert code == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["accounts"]["A"]["route"] in {"MANDATE", "SCORE", "NO_TRADE"}


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    book = {k: v for k, v in BOOK.items() if k != "models"}
    code, text = _run(tmp_path, book)
    assert code == 1
    assert "models" in text and "Field required" in text
    assert "Traceback" not in text


def test_a_wrong_type_is_named_with_its_path(tmp_path: Path) -> None:
    book = json.loads(json.dumps(BOOK))
    book["accounts"][0]["lots"][0]["quantity"] = "many"
    code, text = _run(tmp_path, book)
    assert code == 1
    assert "accounts.0.lots.0.quantity" in text
    assert "Traceback" not in text


def test_a_date_outside_the_exchange_calendar_is_named_before_anything_runs(
    tmp_path: Path,
) -> None:
    last = exchange_calendar().last_session.date()
    later = last + dt.timedelta(days=40)
    for book in (
        {**BOOK, "as_of": later.isoformat()},
        {**BOOK, "dates": [{"as_of": "2026-03-17"}, {"as_of": later.isoformat()}]},
    ):
        code, text = _run(tmp_path, book)
        assert code == 1
        assert f"{later} is outside the exchange calendar" in text
        assert "as_of" in text
        assert "Traceback" not in text
