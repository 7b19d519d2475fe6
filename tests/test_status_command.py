"""``rebalance status`` on the sample's latest date: one line per cause and file, the
accounts only when asked for."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rebalance_pipeline.cli import app

ALDER_CASH = "drops/2026-03-16/alder/cash_20260316.csv"


def status(home: Path, day: dt.date, *options: str) -> list[str]:
    result = CliRunner().invoke(app, ["status", "--date", day.isoformat(), *options])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


@pytest.fixture
def sample(materialized_sample: tuple[Path, dt.date], monkeypatch: pytest.MonkeyPatch):
    home, day = materialized_sample
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    return home, day


def test_the_untrusted_cash_file_is_one_line_with_its_accounts_counted(sample):
    lines = status(*sample)
    (alder,) = [line for line in lines if line.endswith(ALDER_CASH) and "accounts" in line]
    assert alder.split()[:3] == ["wrong_encoding", "error", "1"]
    assert "165 accounts" in alder
    assert lines[-1] == "suspended accounts: 165 (list them with --accounts)"
    assert not [line for line in lines if line.strip().startswith("A0")]
    assert len(lines) < 20


def test_accounts_lists_every_suspended_account(sample):
    lines = status(*sample, "--accounts")
    listed = lines[lines.index("suspended accounts:") + 1 :]
    assert len(listed) == 165
    assert all(line.strip().startswith("A0") for line in listed)
