"""``rebalance status`` on the sample's latest date: one line per cause and file, the
accounts only when asked for."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rebalance_pipeline.cli import app


def status(home: Path, day: dt.date, *options: str) -> list[str]:
    result = CliRunner().invoke(app, ["status", "--date", day.isoformat(), *options])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


@pytest.fixture
def sample(materialized_sample: tuple[Path, dt.date], monkeypatch: pytest.MonkeyPatch):
    home, day = materialized_sample
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    return home, day


def test_the_price_jump_is_one_line_with_its_accounts_counted(sample):
    lines = status(*sample)
    (jump,) = [line for line in lines if "accounts" in line and "findings" in line]
    assert jump.split()[:3] == ["price_jump", "error", "1"]
    assert "74 accounts" in jump and jump.endswith("(no file)")
    assert lines[-1] == "suspended accounts: 74 (list them with --accounts)"
    assert not [line for line in lines if line.strip().startswith("A0")]
    assert len(lines) < 20


def test_accounts_lists_every_suspended_account(sample):
    lines = status(*sample, "--accounts")
    listed = lines[lines.index("suspended accounts:") + 1 :]
    assert len(listed) == 74
    assert all(line.strip().startswith("A0") for line in listed)
