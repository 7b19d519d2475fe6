"""The instance's SQLite storage: the instance `rebalance run` creates uses it, each
database file's engine is made once per process, and the files are what Dagster's own
storage writes and reads, with no connection left open between writes."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from rebalance_pipeline import instance_storage
from rebalance_pipeline.instance_storage import EngineReusingSqliteEventLogStorage
from rebalance_pipeline.runner import instance_config


@dg.asset
def answer() -> int:
    return 42


@dg.asset
def doubled(answer: int) -> int:
    return 2 * answer


@pytest.fixture
def instance(tmp_path: Path):
    (tmp_path / "dagster.yaml").write_text(instance_config(tmp_path))
    with dg.DagsterInstance.from_config(str(tmp_path)) as opened:
        yield opened


def run_two_assets(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([answer, doubled], instance=instance)
    assert result.success
    return result.run_id


def test_the_instance_rebalance_run_creates_uses_the_engine_reusing_event_log(instance):
    assert isinstance(instance.event_log_storage, EngineReusingSqliteEventLogStorage)


def test_each_database_file_gets_one_engine_however_many_events(instance, monkeypatch):
    made: list[str] = []
    make = instance_storage.create_engine

    def counted(conn_string: str, **options):
        made.append(conn_string)
        return make(conn_string, **options)

    monkeypatch.setattr(instance_storage, "create_engine", counted)
    run_id = run_two_assets(instance)
    assert len(instance.all_logs(run_id)) > 20
    assert sorted(Path(url.removeprefix("sqlite:///")).name for url in made) == [
        f"{run_id}.db",
        "index.db",
    ]


def test_dagster_own_sqlite_event_log_reads_every_event_written(instance, tmp_path):
    run_id = run_two_assets(instance)
    written = [entry.dagster_event_type for entry in instance.all_logs(run_id)]
    stock = SqliteEventLogStorage(str(tmp_path / "history" / "runs"))  # where Dagster keeps them
    read = [
        record.event_log_entry.dagster_event_type
        for record in stock.get_records_for_run(run_id).records
    ]
    assert read == written
    materialized = stock.get_latest_materialization_events([dg.AssetKey("doubled")])
    assert materialized[dg.AssetKey("doubled")].run_id == run_id


def test_no_connection_stays_open_between_writes(instance, tmp_path):
    """The last connection's close folds the write-ahead log into the database file,
    whose changes the Dagster UI watches to show a running run's events."""
    run_id = run_two_assets(instance)
    storage = tmp_path / "history" / "runs"
    assert (storage / f"{run_id}.db").is_file()
    assert not (storage / f"{run_id}.db-wal").exists()
    assert not (storage / "index.db-wal").exists()
