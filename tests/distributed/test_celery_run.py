"""The same daily job on dagster-celery: Postgres as the Dagster instance, Redis as the
broker, two workers on loopback (``services.sh``). One date of the sample book runs on
the workers and, in another home, on the multiprocess executor; the trade files and
every table must be byte-identical, and the optimization shards must have run on both
workers (each step's worker is in the event log: dagster-celery's engine event
"Executing steps ... in celery worker" names it).

``make test-distributed`` (installs postgresql and redis-server as root when missing).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from output_fingerprints import fingerprints

from rebalance_pipeline.storage import latest_drop_date

pytestmark = pytest.mark.distributed

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
SERVICES = Path(__file__).with_name("services.sh")
REBALANCE = ROOT / ".venv" / "bin" / "rebalance"
WORKERS = ("worker1", "worker2")
# small shards: the latest date's 135 accounts with a problem make four on two cores
# (at most two per core), more than there are workers
SHARDED_POLICY = "optimization:\n  accounts_per_shard: 30\n"
SHARD_STEP = re.compile(r"solve_shard\[(?P<shard>\w+)\]")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample book with a policy of small shards, so its accounts fan out over more
    shards than there are workers (the shipped policy, 1000 per shard, makes one)."""
    copy = tmp_path_factory.mktemp("book") / "sample"
    shutil.copytree(SAMPLE, copy)
    (copy / "firm" / "policy" / "2020-01-01.yaml").write_text(SHARDED_POLICY)
    return copy


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, book: Path) -> Iterator[tuple[Path, Path]]:
    """(state folder, home of the celery run): Postgres, Redis and the workers, stopped
    whatever happens."""
    base = tmp_path_factory.mktemp("distributed")
    state, home = base / "services", base / "celery-home"
    env = {**os.environ, "REBALANCE_HOME": str(home), "REBALANCE_BOOK": str(book)}
    try:
        subprocess.run([SERVICES, "start", state], env=env, check=True)
        yield state, home
    finally:
        subprocess.run([SERVICES, "stop", state], check=True)


def run_date(book: Path, home: Path, executor: str, **env: str) -> str:
    """``rebalance run --latest`` with the executor; the Dagster run id."""
    run_env = {**os.environ, "REBALANCE_HOME": str(home), **env}
    if "DAGSTER_HOME" not in env:
        run_env.pop("DAGSTER_HOME", None)  # the home's own instance
    start = time.perf_counter()
    done = subprocess.run(
        [REBALANCE, "run", "--book", book, "--latest", "--executor", executor],
        env=run_env,
        capture_output=True,
        text=True,
    )
    print(f"{executor} run: {time.perf_counter() - start:.1f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    return re.search(r"dagster run (\S+)\)", done.stdout).group(1)


def shard_workers(dagster_home: Path, run_id: str) -> dict[str, str]:
    """Shard -> name of the Celery worker that ran its step, from the run's event log."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    found = {}
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
            event = record.dagster_event
            shard = SHARD_STEP.search(event.step_key or "")
            worker = event.engine_event_data.metadata.get("Celery worker")
            if shard and worker is not None:
                found[shard["shard"]] = worker.value.split("@")[0]
    return found


def test_a_celery_run_matches_the_multiprocess_run_and_spreads_its_shards(
    services: tuple[Path, Path], book: Path, tmp_path: Path
):
    state, celery_home = services
    day = latest_drop_date(book)
    run_id = run_date(
        book,
        celery_home,
        "celery",
        DAGSTER_HOME=str(state / "dagster"),
        REBALANCE_CELERY_CONFIG=str(state / "celery.yaml"),
    )
    local_home = tmp_path / "multiprocess-home"
    run_date(book, local_home, "multiprocess")

    on_celery = fingerprints(celery_home, day)
    assert any(path.startswith("trades/") for path in on_celery)
    assert any(path.startswith("warehouse/") for path in on_celery)
    assert on_celery == fingerprints(local_home, day)

    workers = shard_workers(state / "dagster", run_id)
    print(f"shard steps by worker: {dict(sorted(workers.items()))}")
    assert len(workers) >= len(WORKERS)
    assert set(workers.values()) == set(WORKERS)


def test_a_celery_setting_the_executor_does_not_know_is_refused():
    import dagster as dg

    from rebalance_pipeline.definitions import pipeline_executor
    from rebalance_pipeline.runner import daily_job

    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.InitExecutorContext(
            job=dg.reconstructable(daily_job),
            executor_def=pipeline_executor,
            executor_config={"celery": {"brokr": "redis://127.0.0.1:56379/0"}},
            instance=instance,
        )
        with pytest.raises(dg.DagsterInvalidConfigError, match="brokr"):
            pipeline_executor.executor_creation_fn(context)
