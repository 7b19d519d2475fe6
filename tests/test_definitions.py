"""The Dagster definitions load, validate, and materialize a sample date end to end."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import builtin_custodians as f
import polars as pl
import pytest

from rebalance_pipeline import storage
from rebalance_pipeline.book import CANONICAL_TABLES, CARRIED_TABLES, ingested
from rebalance_pipeline.features import discover_models
from rebalance_pipeline.ingest.assets import RAW_TABLES

if TYPE_CHECKING:
    from conftest import SampleRun

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


@pytest.mark.parametrize("book", ["sample", "none"])
def test_dagster_validates_the_code_location(book: str, tmp_path: Path) -> None:
    """Also where no book is (a code location started elsewhere): it still loads, with its
    schedule and sensor, its partitions then starting at a fixed early date."""
    root = SAMPLE if book == "sample" else tmp_path / "no-book"
    check = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-w",
            str(ROOT / "workspace.yaml"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "REBALANCE_BOOK": str(root)},
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Validation successful" in check.stdout + check.stderr


def test_asset_graph_runs_from_custodian_files_to_trade_files() -> None:
    from rebalance_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    expected = {
        *CANONICAL_TABLES,
        *(ingested(name) for name in CARRIED_TABLES),
        *RAW_TABLES,
        "custodian_drops",
        "firm_files",
        "data_quality_issues",
        "account_status",
        "manual_queue",
        *(model.name for model in discover_models()),
        "optimization_problems",
        "optimization_results",
        "proposed_trades",
        "proposed_routes",
        "routing_decisions",
        "released_trades",
        "review_queue",
        "compliance_violations",
        "trade_files",
        "review_outcomes",
        "pending_orders",
        "cash_request_status",
        "continuity_findings",
        "daily_report",
    }
    assert keys == expected
    # every SQL model's upstream assets are exactly the tables its SQL selects from
    for model in discover_models():
        node = next(k for k in graph.get_all_asset_keys() if k.to_user_string() == model.name)
        parents = {key.to_user_string() for key in graph.get(node).parent_keys}
        assert parents == set(model.deps), model.name


@pytest.fixture
def materialized(materialized_sample: tuple[Path, dt.date]) -> tuple[Path, dt.date]:
    return materialized_sample


def test_canonical_row_counts_match_the_files(materialized: tuple[Path, dt.date]) -> None:
    home, day = materialized
    for table in ("positions", "lots"):
        rows = storage.read_partition(table, day, home).height
        assert rows == sum(f.detail_count(SAMPLE, c, table, day) for c in f.CUSTODIAN), table
        alder = storage.read_partition(f"raw_alder_{table}", day, home)
        birch = storage.read_partition(f"raw_birch_{table}", day, home)
        cedar = storage.read_partition(f"raw_cedar_{table}", day, home)
        details = alder.height + birch.filter(pl.col("RECORD") == "D").height + cedar.height
        assert details == rows, f"raw {table}"


def test_trade_files_hold_exactly_the_released_accounts(
    materialized: tuple[Path, dt.date],
) -> None:
    home, day = materialized
    decisions = storage.read_partition("routing_decisions", day, home)
    files = sorted((home / "trades" / day.isoformat()).glob("*_trades_*.csv"))
    assert files, "no trade files written"
    traded = pl.concat([pl.read_csv(f, infer_schema=False) for f in files])
    routes = traded.join(decisions, on="account_id", how="left")
    assert routes["route"].is_in(["MANDATE", "SCORE"]).all()
    assert (routes["review"] == "auto").all()
    assert routes["reason_code"].is_not_null().all()
    released = decisions.filter(
        pl.col("route").is_in(["MANDATE", "SCORE"]) & (pl.col("review") == "auto")
    )
    assert set(traded["account_id"]) == set(released["account_id"])
    not_trading = decisions.filter(pl.col("route").is_in(["SUSPENDED", "HOLD", "MANUAL", "HALT"]))
    assert not set(traded["account_id"]) & set(not_trading["account_id"])


def test_every_asset_check_ran_and_the_data_docs_were_written(sample_run: SampleRun) -> None:
    from rebalance_pipeline.definitions import defs

    declared = set(defs.resolve_asset_graph().asset_check_keys)
    ran = {evaluation.asset_check_key for evaluation in sample_run.check_evaluations}
    assert declared, "the definitions declare no asset checks"
    assert ran == declared
    index = sample_run.home / "data_docs" / sample_run.day.isoformat() / "index.html"
    assert index.exists()
    assert "custodian_files" in index.read_text()


def test_any_account_is_resolved_alone_from_its_stored_inputs(
    materialized: tuple[Path, dt.date], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rebalance_pipeline.runner import resolve_account

    home, day = materialized
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    monkeypatch.setenv("REBALANCE_BOOK", str(SAMPLE))
    traded = storage.read_partition("proposed_trades", day, home)["account_id"].unique().sort()
    assert traded.len() >= 3, "the sample date proposes trades in too few accounts"
    for account in traded.head(3):
        assert "reproduces the stored result" in resolve_account(account, day)


def test_one_sql_model_is_rematerialized_alone(
    materialized: tuple[Path, dt.date], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from rebalance_pipeline.definitions import defs

    home, day = materialized
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    monkeypatch.setenv("REBALANCE_BOOK", str(SAMPLE))
    before = storage.partition_file("mandates", day, home).read_bytes()
    result = defs.resolve_job_def("daily_rebalance").execute_in_process(
        partition_key=day.isoformat(), asset_selection=[dg.AssetKey("mandates")]
    )
    assert result.success
    materialized_keys = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized_keys == {dg.AssetKey("mandates")}
    assert storage.partition_file("mandates", day, home).read_bytes() == before
