"""explain and diff on the sample book's latest date, materialized in-process once."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline import storage
from rebalance_pipeline.audit import diff, explain
from rebalance_pipeline.audit.batches import current_batch_id
from rebalance_pipeline.policy import book_policy

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"

pytestmark = pytest.mark.slow


@pytest.fixture
def materialized(materialized_sample: tuple[Path, dt.date]) -> tuple[Path, dt.date]:
    return materialized_sample


def test_one_account_of_every_route_is_explained(materialized: tuple[Path, dt.date]) -> None:
    home, day = materialized
    policy = book_policy(SAMPLE, day)
    decisions = storage.read_partition("routing_decisions", day, home)
    released = storage.read_partition("released_trades", day, home)
    firsts = decisions.group_by("route").agg(pl.col("account_id").min()).sort("route")
    assert firsts.height >= 3  # the sample date has suspended, traded and untraded accounts
    for route, account in firsts.iter_rows():
        explanation = explain(account, day, home, policy)
        record = json.loads(json.dumps(explanation.to_dict()))
        assert len(record["sections"]) == 8
        assert f"route {route}" in "\n".join(explanation.section("routing").lines)
        if route in ("MANDATE", "SCORE", "NO_TRADE"):
            assert explanation.section("optimizer").data["result"] is not None, account
        rows = explanation.section("trades").data["trade_file_rows"]
        assert len(rows) == released.filter(pl.col("account_id") == account).height


def test_a_flex_account_names_its_one_file_with_the_rows_of_each_kind(
    materialized: tuple[Path, dt.date],
) -> None:
    """cedar delivers one Flex report holding every kind: one file, one hash, not six."""
    home, day = materialized
    accounts = pl.read_csv(SAMPLE / "firm" / "accounts.csv")
    account = accounts.filter(pl.col("custodian") == "cedar")["account_id"].min()
    sources = explain(account, day, home, book_policy(SAMPLE, day)).section("sources")
    header, *files = sources.lines
    flex = f"drops/{day}/cedar/rebalance_daily.{day:%Y%m%d}.xml"
    assert header == "custodian cedar: 1 file"
    assert len(files) == 1 and files[0].startswith(f"{flex} (ok; rows: cash ")
    for kind in ("corporate_actions", "lots", "positions", "prices", "transactions"):
        assert f" {kind} " in files[0]


def test_the_current_batch_against_itself_is_empty(materialized: tuple[Path, dt.date]) -> None:
    home, day = materialized
    batch = current_batch_id(day, home)
    assert batch is not None
    assert diff(day, batch, home).is_empty


def test_solve_prints_the_result_and_trades_as_written(
    materialized: tuple[Path, dt.date], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named values, amounts to the cent, whole shares as the trade files write them: no
    frame dumps (``column_0``, ``3983.1899999999996``, ``215.0``)."""
    from typer.testing import CliRunner

    from rebalance_pipeline.cli import app
    from rebalance_pipeline.reporting.cells import dollars, quantity_cell

    home, day = materialized
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    monkeypatch.setenv("REBALANCE_BOOK", str(SAMPLE))
    trades = storage.read_partition("proposed_trades", day, home)
    account = trades["account_id"].min()
    result = CliRunner().invoke(app, ["solve", "--account", account, "--date", day.isoformat()])
    assert result.exit_code == 0, result.output
    text = result.output
    assert f"{account} on {day}: reproduces the stored result" in text
    assert "column_0" not in text and "shape:" not in text
    stored = storage.read_partition("optimization_results", day, home)
    turnover = stored.filter(pl.col("account_id") == account)["turnover_usd"][0]
    assert f"turnover_usd {dollars(turnover)}" in " ".join(text.split())
    first = (
        trades.filter(pl.col("account_id") == account)
        .sort("side", "security_id")
        .row(0, named=True)
    )
    written = f"{first['side']} {first['security_id']} {quantity_cell(first['quantity'])} "
    assert written in " ".join(text.split())
    assert ".0 " not in text  # whole shares are written whole
