"""A simulation config whose days the exchange calendar does not have is named in one
line before anything runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from typer.testing import CliRunner

from rebalance_pipeline.calendar import exchange_calendar
from rebalance_pipeline.cli import app


def _simulate(tmp_path: Path, start: dt.date, days: int) -> tuple[int, str]:
    config = tmp_path / "sim.yaml"
    config.write_text(yaml.safe_dump({"start_date": start.isoformat(), "days": days}))
    result = CliRunner().invoke(
        app, ["simulate", "--config", str(config), "--out", str(tmp_path / "out")]
    )
    return result.exit_code, result.output


def test_simulated_days_running_past_the_calendar_are_named(tmp_path: Path) -> None:
    last = exchange_calendar().last_session.date()
    code, text = _simulate(tmp_path, last - dt.timedelta(days=30), 60)
    assert code == 1
    assert f"60 business days from {last - dt.timedelta(days=30)}" in text
    assert f"the exchange calendar's last session {last}" in text
    assert not (tmp_path / "out").exists()


def test_a_start_before_the_calendar_with_its_warm_up_is_named(tmp_path: Path) -> None:
    first = exchange_calendar().first_session.date()
    code, text = _simulate(tmp_path, first + dt.timedelta(days=20), 10)
    assert code == 1
    assert f"the exchange calendar's first session {first}" in text
    assert not (tmp_path / "out").exists()
