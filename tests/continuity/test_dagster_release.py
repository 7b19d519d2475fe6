"""Through the Dagster job: the current date releases, a re-run replays beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from continuity_days import folder_state

from rebalance_pipeline import storage

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def materialize(day, mode: str = "auto") -> bool:
    from rebalance_pipeline.definitions import defs

    config = {"resources": {"release": {"config": {"mode": mode}}}}
    job = defs.resolve_job_def("daily_rebalance")
    return job.execute_in_process(partition_key=day.isoformat(), run_config=config).success


@pytest.fixture
def sample_env(tmp_path, monkeypatch):
    monkeypatch.setenv("REBALANCE_HOME", str(tmp_path))
    monkeypatch.setenv("REBALANCE_BOOK", str(SAMPLE))
    return tmp_path


def test_the_current_date_releases_and_a_rerun_replays_without_touching_it(sample_env):
    from rebalance_pipeline.storage import latest_drop_date

    home, day = sample_env, latest_drop_date(SAMPLE)
    assert materialize(day)
    folder = home / "trades" / day.isoformat()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["release"] is True
    assert (home / "ledger" / day.isoformat() / f"{manifest['batch_id']}.json").exists()
    provenance = manifest["provenance"]
    read = storage.read_partition("source_files", day, home).filter(pl.col("sha256").is_not_null())
    # one hash per file: a Flex file holds every kind
    assert provenance["custodian_files"] == dict(read.select("source_file", "sha256").iter_rows())
    assert read["source_file"].n_unique() < read.height
    assert "firm/accounts.csv" in provenance["firm_files"]
    assert len(provenance["uv_lock_sha256"]) == 64
    before = folder_state(folder)

    assert materialize(day)

    (replay,) = folder.glob("replay-*")
    assert replay.name == f"replay-{manifest['batch_id']}"
    assert json.loads((replay / "manifest.json").read_text())["release"] is False
    assert json.loads((replay / "diff.json").read_text())["accounts_changed"] == []
    assert folder_state(folder) == before
    assert os.listdir(home / "ledger" / day.isoformat()) == [f"{manifest['batch_id']}.json"]

    from rebalance_pipeline.audit import diff, explain

    assert diff(day, manifest["batch_id"], home).is_empty  # the replay equals the release
    traded = storage.read_partition("released_trades", day, home)["account_id"][0]
    text = explain(traded, day, home).to_text()
    assert manifest["batch_id"] in text
