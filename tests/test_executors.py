"""Where the steps of a date run does not change a byte of what the date writes."""

from __future__ import annotations

import dagster as dg
import pytest
from conftest import SAMPLE
from test_sample_outputs_snapshot import SNAPSHOT, render

from rebalance_pipeline.executors import Executor
from rebalance_pipeline.policy import book_policy
from rebalance_pipeline.runner import expected_shards, materialize_date
from rebalance_pipeline.storage import latest_drop_date


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    """A new home and Dagster instance; the variables the runner sets are restored."""
    home = tmp_path / "home"
    for name, value in {
        "REBALANCE_HOME": home,
        "REBALANCE_BOOK": SAMPLE,
        "DAGSTER_HOME": home / "dagster",
    }.items():
        monkeypatch.setenv(name, str(value))
    return home


def step_processes(run_id: str) -> list[int]:
    """The process id of each step of the run (from its STEP_START events)."""
    with dg.DagsterInstance.get() as instance:
        events = [record.dagster_event for record in instance.all_logs(run_id)]
    return [e.pid for e in events if e is not None and e.event_type_value == "STEP_START"]


def test_steps_forked_from_the_forkserver_write_the_snapshot_bytes(fresh_home):
    day = latest_drop_date(SAMPLE)
    outcome = materialize_date(day, SAMPLE, executor=Executor.MULTIPROCESS)
    assert outcome.success
    assert render(fresh_home, day) == SNAPSHOT.read_text()
    pids = step_processes(outcome.run_id)
    assert len(set(pids)) == len(pids) > 10  # a process per step


def test_auto_runs_a_one_shard_book_in_one_process(fresh_home):
    day = latest_drop_date(SAMPLE)
    assert expected_shards(SAMPLE, day, book_policy(SAMPLE, day)) == 1
    outcome = materialize_date(day, SAMPLE)
    assert outcome.success
    assert len(set(step_processes(outcome.run_id))) == 1
