"""The end-to-end benchmark's harness: reading Dagster events, charging CPU, sampling /proc.

No timings are asserted; these keep ``make bench``'s parsing and aggregation from
breaking silently (a renamed event field, a metadata key, a /proc layout)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "bench_pipeline", ROOT / "benchmarks" / "bench_pipeline.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()
Event, Sample = bench.StepEvent, bench.Sample


@dg.op(out=dg.DynamicOut(int))
def plan_shards():
    for shard in range(2):
        yield dg.DynamicOutput(shard, mapping_key=f"shard_{shard}")


@dg.op
def solve_shard(context, shard: int) -> int:
    context.add_output_metadata({"solver_seconds": 1.5, "shard": f"shard_{shard}"})
    return shard


@dg.op
def write_table(shards: list[int]):
    yield dg.AssetMaterialization(asset_key="results", metadata={"rows": 3 + len(shards)})
    yield dg.Output(None)


@dg.job
def toy_daily_job():
    write_table(plan_shards().map(solve_shard).collect())


def test_a_dagster_run_reads_as_stages_with_rows_and_solver_seconds() -> None:
    with dg.instance_for_test() as instance:
        result = toy_daily_job.execute_in_process(instance=instance)
        events = bench.step_events(instance.all_logs(result.run_id))
    first, last = events[0].timestamp, events[-1].timestamp
    pid = os.getpid()
    samples = [Sample(first - 1, pid, 1.0, 10, 10), Sample(last + 1, pid, 9.0, 20, 20)]

    steps = bench.step_stats(events, samples)
    stages = bench.stage_table(steps)

    assert [row["stage"] for row in stages] == ["plan_shards", "solve_shard", "write_table"]
    solve = stages[1]
    assert solve["steps"] == 2
    assert solve["solver_seconds"] == pytest.approx(3.0)
    assert stages[2]["rows"] == 5
    assert all(step.succeeded for step in steps)
    # one process ran every step: each is charged only its own window of the 8 CPU-s
    assert all(0 < step.cpu_seconds < 8.0 for step in steps)
    assert sum(step.cpu_seconds for step in steps) <= 8.0


def test_a_process_that_ran_one_step_is_charged_whole_imports_included() -> None:
    parent, worker_a, worker_b = 100, 201, 202
    events = [
        Event(10.0, "STEP_WORKER_STARTING", "ingest", parent, {}),
        Event(13.0, "STEP_START", "ingest", worker_a, {}),
        Event(15.0, "ASSET_MATERIALIZATION", "ingest", worker_a, {"rows": 42.0}),
        Event(16.0, "STEP_SUCCESS", "ingest", worker_a, {}),
        Event(16.5, "STEP_WORKER_STARTING", "validate", parent, {}),
        Event(19.0, "STEP_START", "validate", worker_b, {}),
        Event(20.0, "STEP_FAILURE", "validate", worker_b, {}),
    ]
    samples = [
        Sample(11.0, worker_a, 0.8, 50, 50),
        Sample(15.9, worker_a, 4.0, 80, 300),
        Sample(18.0, worker_b, 1.5, 60, 90),
        Sample(19.9, worker_b, 2.5, 70, 120),
        Sample(19.9, parent, 30.0, 500, 500),
    ]

    ingest, validate = bench.step_stats(events, samples)

    assert (ingest.step_key, ingest.cpu_seconds, ingest.peak_rss_bytes) == ("ingest", 4.0, 300)
    assert (ingest.wall_seconds, ingest.body_seconds, ingest.rows) == (6.0, 3.0, 42)
    assert (validate.cpu_seconds, validate.peak_rss_bytes) == (2.5, 120)
    assert not validate.succeeded


def test_steps_sharing_a_process_are_charged_between_their_start_and_end() -> None:
    pid = 300
    events = [
        Event(15.0, "STEP_START", "a", pid, {}),
        Event(20.0, "STEP_SUCCESS", "a", pid, {}),
        Event(20.0, "STEP_START", "b", pid, {}),
        Event(25.0, "STEP_SUCCESS", "b", pid, {}),
    ]
    samples = [
        Sample(10.0, pid, 1.0, 100, 100),
        Sample(20.0, pid, 5.0, 700, 700),
        Sample(30.0, pid, 6.0, 200, 700),
    ]

    a, b = bench.step_stats(events, samples)

    assert a.cpu_seconds == pytest.approx(2.0)  # 3.0 at 15 s to 5.0 at 20 s
    assert b.cpu_seconds == pytest.approx(0.5)
    assert (a.peak_rss_bytes, b.peak_rss_bytes) == (700, 700)


def test_a_stage_of_parallel_shards_spans_first_launch_to_last_end() -> None:
    def step(key: str, launched: float, wall: float, cpu: float):
        body = wall - 1.0  # a second to start the step's process
        return bench.StepStats(key, bench.stage_name(key), launched, wall, body, cpu, 0, 0, 0, True)

    steps = [step("solve_shard[shard_1]", 2.0, 9.0, 8.0), step("solve_shard[shard_0]", 1.0, 4.0, 3)]
    (row,) = bench.stage_table(steps)
    assert (row["steps"], row["wall_seconds"], row["cpu_seconds"]) == (2, 10.0, 11.0)
    assert row["startup_seconds"] == 2.0

    total = bench.totals(100, 20.0, 30.0, 1, [*steps[:1], steps[1]])
    assert total["cpu_ms_per_account"] == pytest.approx(300.0)
    assert total["cpu_outside_steps"] == pytest.approx(19.0)


def test_the_sampler_sees_the_processes_this_one_starts() -> None:
    sampler = bench.ProcessSampler(os.getpid(), interval=0.02)
    sampler.start()
    child = subprocess.Popen(["sleep", "0.3"])
    time.sleep(0.2)
    samples = sampler.stop()
    child.wait()
    pids = {sample.pid for sample in samples}
    assert {os.getpid(), child.pid} <= pids
    own = [sample for sample in samples if sample.pid == os.getpid()]
    assert own[-1].cpu_seconds > 0 and own[-1].peak_rss_bytes >= own[-1].rss_bytes > 0


def test_the_stage_chart_is_a_png(tmp_path: Path) -> None:
    runs = [
        {"totals": {"accounts": n}, "stages": [{"stage": "ingest", "wall_seconds": n / 100}]}
        for n in (300, 10_000)
    ]
    bench.stage_chart(runs, tmp_path / "stages.png")
    assert (tmp_path / "stages.png").read_bytes().startswith(b"\x89PNG")


def test_the_scaling_report_gives_each_stage_its_growth_exponent() -> None:
    def run(n: int) -> dict:
        stages = [
            {"stage": "linear", "cpu_seconds": n * 1e-3},
            {"stage": "quadratic", "cpu_seconds": n * n * 1e-6},
        ]
        return {"totals": {"accounts": n, "cpu_seconds": 2.0 * n}, "stages": stages}

    report = bench.scaling_report([run(1000), run(10_000)]).splitlines()
    assert report[2].split() == ["linear", "1.000", "1.000", "(1.00)"]
    assert report[3].split() == ["quadratic", "1.000", "10.000", "(2.00)"]


def test_a_forkserver_that_outlives_the_run_is_counted() -> None:
    """A process orphaned by the measured run (as the multiprocess executor's forkserver
    is) is waited for by the benchmark, and its CPU counted."""
    script = f"""
import subprocess, sys
sys.path.insert(0, {str(Path(bench.__file__).parent)!r})
import bench_pipeline as bench
bench.adopt_orphans()
busy = "import time; end = time.process_time() + 0.3\\nwhile time.process_time() < end: pass"
subprocess.run(["sh", "-c", f"{{sys.executable}} -c '{{busy}}' & exit 0"], check=True)
print(bench.orphans_cpu_seconds())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert float(done.stdout) >= 0.3, done.stderr


def test_a_process_ending_while_its_children_are_listed_is_left_out(monkeypatch) -> None:
    """The race the sampler runs into: /proc/<pid>/task exists when the listing starts and
    is gone when it is read. The process is still in the tree (its last sample was taken
    or is read as gone); the sampler thread must not die of it."""
    listing = Path.glob

    def vanishing(path: Path, pattern: str):
        if path == Path(f"/proc/{os.getpid()}/task"):
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return listing(path, pattern)

    monkeypatch.setattr(Path, "glob", vanishing)
    assert bench._process_tree(os.getpid()) == [os.getpid()]
