"""The daily job's executor choice: each choice is a run config the job accepts, the
celery one carries the workers' broker settings, and the default path never imports the
optional dagster-celery."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from run_home import use_home
from test_sample_outputs_snapshot import SNAPSHOT, render

from rebalance_pipeline.definitions import defs, pipeline_executor
from rebalance_pipeline.executor import ExecutorChoice
from rebalance_pipeline.partitions import JOB_NAME
from rebalance_pipeline.policy import book_policy
from rebalance_pipeline.runner import (
    CELERY_CONFIG_ENV,
    daily_job,
    execution_config,
    expected_shards,
    instance_config,
    materialize_date,
)
from rebalance_pipeline.storage import latest_drop_date

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
STEP_LINE = re.compile(r"^  (\S+) +done in +\d+\.\d s$")  # a step as `rebalance run` prints it
WORKER_CONFIG = """\
execution:
  config:
    broker: redis://127.0.0.1:56379/0
    backend: redis://127.0.0.1:56379/1
"""


@pytest.mark.parametrize(
    ("choice", "shards", "runs_on"),
    [
        (ExecutorChoice.AUTO, 1, "in_process"),
        (ExecutorChoice.AUTO, 4, "multiprocess"),
        (ExecutorChoice.AUTO, None, "multiprocess"),  # the accounts could not be counted
        (ExecutorChoice.IN_PROCESS, 4, "in_process"),
        (ExecutorChoice.MULTIPROCESS, 1, "multiprocess"),
        (ExecutorChoice.CELERY, 1, "celery"),
    ],
)
def test_every_choice_is_a_run_config_the_daily_job_accepts(
    choice: ExecutorChoice, shards: int | None, runs_on: str
):
    job = defs.resolve_job_def(JOB_NAME)
    checked = dg.validate_run_config(job, {"execution": execution_config(choice, shards)})
    assert list(checked["execution"][pipeline_executor.name]) == [runs_on]


def test_the_job_refuses_an_executor_it_does_not_know():
    job = defs.resolve_job_def(JOB_NAME)
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(job, {"execution": {"config": {"k8s": {}}}})


def test_a_celery_run_takes_the_broker_the_workers_were_started_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    config = tmp_path / "celery.yaml"
    config.write_text(WORKER_CONFIG)
    monkeypatch.setenv(CELERY_CONFIG_ENV, str(config))
    celery = execution_config(ExecutorChoice.CELERY)["config"]["celery"]
    assert celery["broker"] == "redis://127.0.0.1:56379/0"
    assert celery["backend"] == "redis://127.0.0.1:56379/1"
    # the workers' file is for celery runs only
    multiprocess = execution_config(ExecutorChoice.MULTIPROCESS)["config"]["multiprocess"]
    assert "celery" not in str(multiprocess) and "forkserver" in multiprocess["start_method"]


def test_in_process_and_multiprocess_executors_do_not_import_dagster_celery():
    """dagster-celery is an optional dependency group: building the executors of a run on
    this machine must work without it (and not import it when it is installed)."""
    script = """
import sys
import dagster as dg
from rebalance_pipeline.definitions import pipeline_executor
from rebalance_pipeline.runner import daily_job

with dg.DagsterInstance.ephemeral() as instance:
    for choice in ("in_process", "multiprocess"):
        context = dg.InitExecutorContext(
            job=dg.reconstructable(daily_job),
            executor_def=pipeline_executor,
            executor_config={choice: {"retries": {"enabled": {}}}},
            instance=instance,
        )
        print(type(pipeline_executor.executor_creation_fn(context)).__name__)
print("dagster_celery" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["InProcessExecutor", "MultiprocessExecutor", "False"]


def test_a_celery_run_without_dagster_celery_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setitem(sys.modules, "dagster_celery", None)  # import fails as if absent
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.InitExecutorContext(
            job=dg.reconstructable(daily_job),
            executor_def=pipeline_executor,
            executor_config={"celery": {}},
            instance=instance,
        )
        with pytest.raises(dg.DagsterInvariantViolationError, match="--group distributed"):
            pipeline_executor.executor_creation_fn(context)


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    """A new home and Dagster instance; the variables the runner sets are restored."""
    home = tmp_path / "home"
    use_home(monkeypatch, home, SAMPLE)
    return home


def step_starts(run_id: str) -> list[dg.DagsterEvent]:
    """The STEP_START events of the run."""
    with dg.DagsterInstance.get() as instance:
        events = [record.dagster_event for record in instance.all_logs(run_id)]
    return [e for e in events if e is not None and e.event_type_value == "STEP_START"]


def step_processes(run_id: str) -> list[int]:
    """The process id of each step of the run."""
    return [event.pid for event in step_starts(run_id)]


def step_keys(run_id: str) -> list[str]:
    return [event.step_key for event in step_starts(run_id)]


def test_steps_forked_from_the_forkserver_write_the_snapshot_bytes(fresh_home):
    """Through the command, which prints each step as it ends, not Dagster's DEBUG lines."""
    day = latest_drop_date(SAMPLE)
    command = [str(Path(sys.executable).with_name("rebalance")), "run", "--book", str(SAMPLE)]
    run = subprocess.run(
        [*command, "--date", day.isoformat(), "--executor", "multiprocess"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert render(fresh_home, day) == SNAPSHOT.read_text()
    (run_id,) = re.findall(r"dagster run (\S+)\)", run.stdout)
    pids = step_processes(run_id)
    assert len(set(pids)) == len(pids) > 10  # a process per step
    assert "DEBUG" not in run.stderr
    printed = [STEP_LINE.match(line) for line in run.stderr.splitlines()]
    assert all(printed), run.stderr
    assert sorted(match[1] for match in printed) == sorted(step_keys(run_id))


def test_auto_runs_a_one_shard_book_in_one_process(fresh_home):
    day = latest_drop_date(SAMPLE)
    assert expected_shards(SAMPLE, day, book_policy(SAMPLE, day)) == 1
    outcome = materialize_date(day, SAMPLE)
    assert outcome.success
    assert len(set(step_processes(outcome.run_id))) == 1


def test_a_step_process_opens_the_instance_and_its_job_with_preloaded_modules(tmp_path):
    """What every step process does before its step (open the Dagster instance from its
    reference, rebuild the job) imports no SQL storage and none of the package again:
    those imports were a quarter of a second of every step's CPU."""
    (tmp_path / "dagster.yaml").write_text(instance_config(tmp_path))  # as `rebalance run`'s
    script = f"""
import sys
from rebalance_pipeline.executor import PRELOADED_MODULES
for name in PRELOADED_MODULES:
    __import__(name)
import dagster as dg
from dagster._core.instance.ref import InstanceRef
preloaded = set(sys.modules)
with dg.DagsterInstance.from_ref(InstanceRef.from_dir({str(tmp_path)!r})):
    from rebalance_pipeline.runner import daily_job
    dg.reconstructable(daily_job).get_definition()
packages = {{name.split(".")[0] for name in sys.modules if name not in preloaded}}
print(sorted(packages & {{"sqlalchemy", "alembic", "rebalance_pipeline"}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["[]"]
