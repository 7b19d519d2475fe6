"""End-to-end benchmark: one generated date of a book through Dagster, stage by stage.

    .venv/bin/python benchmarks/bench_pipeline.py [--sizes 300,10000] [--with-100k]
        [--executor auto|in_process|multiprocess]

For each book size (300 is the shipped sample; larger books are generated once under
``var/bench/books``) one date, the book's latest, runs exactly as ``rebalance run`` runs
it (``runner.materialize_date``), in a fresh child process with a fresh
``$REBALANCE_HOME``. Per stage (Dagster step) it prints wall, CPU seconds, rows written
and peak RSS, and for the optimization the sum of solver seconds; per book the CPU per
account and the ratio end-to-end CPU / solver time. Results go to
``benchmarks/results/pipeline-<executor>.json`` with a log-log PNG of time per stage.

Step times come from the run's Dagster event log; CPU and RSS from sampling ``/proc``
for the child's process tree (a step process's whole life, imports included; with
steps in one process, the window between the step's start and end). The end-to-end CPU
is exact: the rusage of the child, of its descendants, and of the multiprocess executor's
forkserver (adopted as an orphan), from ``os.wait4``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from rebalance_pipeline.executor import ExecutorChoice

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
SCRATCH = REPO / "var" / "bench"
SAMPLE_BOOK = REPO / "data" / "sample"
SAMPLE_ACCOUNTS = 300
LARGE_BOOK = 100_000
HOUSEHOLDS_PER_ACCOUNT = 0.4  # 100k accounts in 40k households, as in the scale issue
DROP_DAYS = 5
SAMPLE_INTERVAL = 0.1  # seconds between /proc samples; a process's last interval is lost
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclasses.dataclass(frozen=True)
class StepEvent:
    """One Dagster event of a step, reduced to what the benchmark reads."""

    timestamp: float
    kind: str  # DagsterEventType value
    step_key: str
    pid: int
    metadata: dict[str, float]


@dataclasses.dataclass(frozen=True)
class Sample:
    """One look at one process: CPU so far, current and peak resident memory."""

    timestamp: float
    pid: int
    cpu_seconds: float
    rss_bytes: int
    peak_rss_bytes: int


@dataclasses.dataclass(frozen=True)
class StepStats:
    step_key: str
    stage: str
    launched_at: float  # epoch seconds
    wall_seconds: float  # from the executor launching the step to the step's end
    body_seconds: float  # STEP_START to STEP_SUCCESS / STEP_FAILURE
    cpu_seconds: float
    peak_rss_bytes: int
    rows: int  # rows written to the warehouse (the IO manager's metadata)
    solver_seconds: float
    succeeded: bool


# -- reading the run ---------------------------------------------------------------


def step_events(entries: Iterable) -> list[StepEvent]:
    """The step events of a Dagster event log (``instance.all_logs(run_id)``)."""
    events = []
    for entry in entries:
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        events.append(
            StepEvent(
                timestamp=entry.timestamp,
                kind=event.event_type_value,
                step_key=event.step_key,
                pid=event.pid,
                metadata=_numbers(_event_metadata(event)),
            )
        )
    return events


def _event_metadata(event) -> dict:
    data = event.event_specific_data
    if event.event_type_value == "ASSET_MATERIALIZATION":
        return dict(data.materialization.metadata)
    return dict(getattr(data, "metadata", None) or {})


def _numbers(metadata: dict) -> dict[str, float]:
    values = {name: getattr(value, "value", value) for name, value in metadata.items()}
    return {
        name: float(value)
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def stage_name(step_key: str) -> str:
    """A step's stage: the step key without a dynamic mapping key (``solve_shard[shard_0]``)."""
    return step_key.split("[", 1)[0]


def step_stats(events: list[StepEvent], samples: list[Sample]) -> list[StepStats]:
    """Per step: times from the events, CPU and memory from the samples of its process.

    A process that ran one step alone (the multiprocess executor) is charged whole, its
    start-up and imports included; a process shared by steps (``in_process``) is charged
    per step for the window between the step's start and end."""
    by_step: dict[str, list[StepEvent]] = {}
    for event in events:
        by_step.setdefault(event.step_key, []).append(event)
    steps_of_pid: dict[int, set[str]] = {}
    for event in events:
        if event.kind == "STEP_START":
            steps_of_pid.setdefault(event.pid, set()).add(event.step_key)
    stats = []
    for key, own in by_step.items():
        kinds = {event.kind: event for event in own}
        if "STEP_START" not in kinds:
            continue  # skipped: an upstream step failed
        start = kinds["STEP_START"]
        end = kinds.get("STEP_SUCCESS") or kinds.get("STEP_FAILURE") or own[-1]
        launched = kinds.get("STEP_WORKER_STARTING", start)
        process = [s for s in samples if s.pid == start.pid]
        if len(steps_of_pid[start.pid]) == 1:
            cpu = process[-1].cpu_seconds if process else 0.0
            peak = max((s.peak_rss_bytes for s in process), default=0)
        else:
            cpu = _cpu_at(process, end.timestamp) - _cpu_at(process, start.timestamp)
            window = [s for s in process if start.timestamp <= s.timestamp <= end.timestamp]
            peak = max((s.rss_bytes for s in window), default=0)
        stats.append(
            StepStats(
                step_key=key,
                stage=stage_name(key),
                launched_at=launched.timestamp,
                wall_seconds=end.timestamp - launched.timestamp,
                body_seconds=end.timestamp - start.timestamp,
                cpu_seconds=cpu,
                peak_rss_bytes=peak,
                rows=int(
                    sum(e.metadata.get("rows", 0) for e in own if e.kind == "ASSET_MATERIALIZATION")
                ),
                solver_seconds=sum(
                    e.metadata.get("solver_seconds", 0.0) for e in own if e.kind == "STEP_OUTPUT"
                ),
                succeeded=end.kind == "STEP_SUCCESS",
            )
        )
    return sorted(stats, key=lambda s: (s.launched_at, s.step_key))


def _cpu_at(process: list[Sample], moment: float) -> float:
    """The process's CPU seconds at ``moment``, linear between the samples around it."""
    before = [s for s in process if s.timestamp <= moment]
    after = [s for s in process if s.timestamp > moment]
    if not before:
        return after[0].cpu_seconds if after else 0.0
    if not after:
        return before[-1].cpu_seconds
    a, b = before[-1], after[0]
    share = (moment - a.timestamp) / (b.timestamp - a.timestamp)
    return a.cpu_seconds + share * (b.cpu_seconds - a.cpu_seconds)


def stage_table(steps: list[StepStats]) -> list[dict]:
    """Steps grouped by stage (the shards of a dynamic step together), in launch order:
    wall from the first launch to the last end, CPU, rows, solver and start-up seconds
    (launch to STEP_START) summed, peak RSS the largest."""
    stages: dict[str, dict] = {}
    for step in sorted(steps, key=lambda s: (s.launched_at, s.step_key)):
        row = stages.setdefault(
            step.stage,
            {
                "stage": step.stage,
                "steps": 0,
                "cpu_seconds": 0.0,
                "rows": 0,
                "peak_rss_bytes": 0,
                "solver_seconds": 0.0,
                "startup_seconds": 0.0,
                "first_launch": step.launched_at,
                "last_end": 0.0,
            },
        )
        row["steps"] += 1
        row["cpu_seconds"] += step.cpu_seconds
        row["rows"] += step.rows
        row["solver_seconds"] += step.solver_seconds
        row["startup_seconds"] += step.wall_seconds - step.body_seconds
        row["peak_rss_bytes"] = max(row["peak_rss_bytes"], step.peak_rss_bytes)
        row["last_end"] = max(row["last_end"], step.launched_at + step.wall_seconds)
    return [
        {**row, "wall_seconds": row.pop("last_end") - row.pop("first_launch")}
        for row in stages.values()
    ]


def totals(
    accounts: int, wall: float, cpu: float, peak_rss: int, steps: list[StepStats]
) -> dict[str, float]:
    """Book-level numbers: CPU per account, CPU over solver time, what no step accounts for."""
    solver = sum(s.solver_seconds for s in steps)
    step_cpu = sum(s.cpu_seconds for s in steps)
    return {
        "accounts": accounts,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "cpu_ms_per_account": 1e3 * cpu / accounts,
        "solver_seconds": solver,
        "cpu_over_solver": cpu / solver if solver else float("nan"),
        "step_cpu_seconds": step_cpu,
        "cpu_outside_steps": cpu - step_cpu,
        "peak_rss_bytes": peak_rss,
    }


# -- sampling /proc ----------------------------------------------------------------


class ProcessSampler(threading.Thread):
    """Samples CPU and RSS of a process and all its descendants every ``interval`` s."""

    def __init__(self, root: int, interval: float = SAMPLE_INTERVAL) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.samples: list[Sample] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            self.sample_once()
            self._stopping.wait(self.interval)

    def stop(self) -> list[Sample]:
        self._stopping.set()
        self.join()
        self.sample_once()
        return self.samples

    def sample_once(self) -> None:
        now = time.time()
        for pid in _process_tree(self.root):
            sample = _read_process(pid, now)
            if sample is not None:
                self.samples.append(sample)


def _process_tree(root: int) -> list[int]:
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        try:
            listings = list(Path(f"/proc/{pid}/task").glob("*/children"))
        except OSError:
            continue  # the process ended while its tasks were listed
        for children in listings:
            try:
                todo.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue  # the task ended meanwhile
    return tree


def _read_process(pid: int, now: float) -> Sample | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None  # ended between the listing and the read
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    memory = dict(line.split(":", 1) for line in status.splitlines() if line.startswith("Vm"))
    kib = {name: int(memory.get(name, "0 kB").split()[0]) * 1024 for name in ("VmRSS", "VmHWM")}
    return Sample(now, pid, cpu, kib["VmRSS"], kib["VmHWM"])


# -- one measured run (the child process) ------------------------------------------


def measure(book: Path, executor: str) -> dict:
    """Run the book's latest date as ``rebalance run`` does; steps and wall as a dict."""
    sampler = ProcessSampler(os.getpid())
    sampler.start()
    start = time.perf_counter()
    import dagster as dg

    from rebalance_pipeline.executor import ExecutorChoice
    from rebalance_pipeline.runner import materialize_date
    from rebalance_pipeline.storage import latest_drop_date

    day = latest_drop_date(book)
    outcome = materialize_date(day, book, executor=ExecutorChoice(executor))
    wall = time.perf_counter() - start
    samples = sampler.stop()
    with dg.DagsterInstance.get() as instance:
        events = step_events(instance.all_logs(outcome.run_id))
    return {
        "day": day.isoformat(),
        "success": outcome.success,
        "wall_seconds": wall,
        "peak_rss_bytes": max(s.peak_rss_bytes for s in samples),
        "step_processes": len({e.pid for e in events if e.kind == "STEP_START"}),
        "steps": [dataclasses.asdict(s) for s in step_stats(events, samples)],
    }


# -- the benchmark (the parent process) --------------------------------------------


def book_of(accounts: int) -> Path:
    """The shipped sample, or a generated book of ``accounts`` (generated once, kept)."""
    if accounts == SAMPLE_ACCOUNTS:
        return SAMPLE_BOOK
    from rebalance_pipeline.generator import GeneratorConfig, generate_book

    out = SCRATCH / "books" / f"accounts-{accounts}"
    if not (out / "drops").is_dir():
        config = GeneratorConfig(
            accounts=accounts,
            households=max(1, round(accounts * HOUSEHOLDS_PER_ACCOUNT)),
            days=DROP_DAYS,
        )
        shutil.rmtree(out, ignore_errors=True)
        generate_book(config, out)
    return out


def adopt_orphans() -> None:
    """Make this process the reaper of its descendants' orphans (Linux), so the
    multiprocess executor's forkserver, which outlives the run's process and reaps the
    step processes, is waited for here and its CPU counted."""
    import ctypes

    pr_set_child_subreaper = 36
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def orphans_cpu_seconds() -> float:
    """Wait for every adopted orphan to exit; their CPU and their reaped children's."""
    seconds = 0.0
    while True:
        try:
            _, _, usage = os.wait4(-1, 0)
        except ChildProcessError:
            return seconds
        seconds += usage.ru_utime + usage.ru_stime


def run_size(accounts: int, executor: str) -> dict:
    """One measured date in a fresh child process and a fresh home; exact CPU by wait4."""
    home = SCRATCH / f"home-{accounts}-{executor}"
    shutil.rmtree(home, ignore_errors=True)
    load = os.getloadavg()[0]  # other work on the machine skews every number
    env = {**os.environ, "REBALANCE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    # the measurement comes back in a file: step processes share the child's stdout
    result = SCRATCH / f"measured-{accounts}-{executor}.json"
    result.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--measure", str(book_of(accounts))]
    child = subprocess.Popen([*command, "--executor", executor, "--into", str(result)], env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{accounts} accounts: the measured run exited with {status}")
    measured = json.loads(result.read_text())
    steps = [StepStats(**step) for step in measured["steps"]]
    cpu = usage.ru_utime + usage.ru_stime + orphans_cpu_seconds()
    return {
        "executor": executor,
        "step_processes": measured["step_processes"],
        "load_average_1min_before": load,
        "day": measured["day"],
        "success": measured["success"],
        "totals": totals(
            accounts, measured["wall_seconds"], cpu, measured["peak_rss_bytes"], steps
        ),
        "stages": stage_table(steps),
        "steps": measured["steps"],
    }


def report(run: dict) -> str:
    t = run["totals"]
    lines = [
        f"{t['accounts']} accounts, {run['day']}, executor {run['executor']}"
        f" ({run['step_processes']} step processes):"
        f" {'ok' if run['success'] else 'FAILED'}",
        f"  {'stage':34} {'steps':>5} {'wall s':>8} {'CPU s':>8} {'rows':>9} {'peak MiB':>9}"
        f" {'solver s':>9} {'start-up s':>10}",
    ]
    for row in run["stages"]:
        lines.append(
            f"  {row['stage']:34} {row['steps']:5d} {row['wall_seconds']:8.2f}"
            f" {row['cpu_seconds']:8.2f} {row['rows']:9d} {row['peak_rss_bytes'] / 2**20:9.0f}"
            f" {row['solver_seconds']:9.2f} {row['startup_seconds']:10.2f}"
        )
    lines += [
        f"  end to end: {t['wall_seconds']:.1f} s wall, {t['cpu_seconds']:.1f} CPU-s"
        f" ({t['cpu_ms_per_account']:.2f} ms/account), peak RSS"
        f" {t['peak_rss_bytes'] / 2**30:.2f} GiB",
        f"  solver {t['solver_seconds']:.2f} s;"
        f" end-to-end CPU / solver {t['cpu_over_solver']:.1f}x;"
        f" CPU outside steps {t['cpu_outside_steps']:.1f} s",
    ]
    return "\n".join(lines)


def scaling_report(runs: list[dict]) -> str:
    """CPU ms per account of every stage at each size, side by side, with the growth
    exponent of its CPU from the size before (1.0 is linear; above 1, superlinear)."""
    sizes = [run["totals"]["accounts"] for run in runs]
    per_stage = []
    for run in runs:
        cpu = {row["stage"]: row["cpu_seconds"] for row in run["stages"]}
        per_stage.append({**cpu, "end to end": run["totals"]["cpu_seconds"]})
    lines = [
        "CPU ms per account by stage (growth exponent from the size before: 1.0 is linear)",
        f"  {'stage':34}" + "".join(f"{size:>18,}" for size in sizes),
    ]
    for stage in per_stage[-1]:
        cells = []
        for i, (size, cpu) in enumerate(zip(sizes, per_stage, strict=True)):
            seconds = cpu.get(stage, 0.0)
            cell = f"{seconds / size * 1e3:9.3f}"
            before = per_stage[i - 1].get(stage, 0.0) if i else 0.0
            if i and seconds > 0 and before > 0:
                cell += f" ({math.log(seconds / before) / math.log(size / sizes[i - 1]):4.2f})"
            cells.append(f"{cell:>18}")
        lines.append(f"  {stage:34}" + "".join(cells))
    return "\n".join(lines)


def stage_chart(runs: list[dict], out: Path) -> None:
    """Log-log PNG: each stage's wall seconds against the book's accounts."""
    import altair as alt
    import vl_convert

    rows = [
        {
            "accounts": run["totals"]["accounts"],
            "stage": row["stage"],
            "seconds": max(row["wall_seconds"], 1e-3),
        }
        for run in runs
        for row in run["stages"]
    ]
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True)
        .encode(
            x=alt.X("accounts:Q", scale=alt.Scale(type="log")),
            y=alt.Y("seconds:Q", scale=alt.Scale(type="log"), title="wall seconds"),
            color=alt.Color("stage:N", scale=alt.Scale(scheme="category20")),
        )
        .properties(title="time per stage (step launch to end)", width=480, height=360)
    )
    out.write_bytes(vl_convert.vegalite_to_png(chart.to_json(), scale=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=f"{SAMPLE_ACCOUNTS},10000", help="comma-separated")
    parser.add_argument("--with-100k", action="store_true", help=f"add {LARGE_BOOK} (long)")
    parser.add_argument(
        "--executor",
        choices=[e.value for e in ExecutorChoice if e is not ExecutorChoice.CELERY],
        default=ExecutorChoice.AUTO.value,
        help="where the steps run, as `rebalance run --executor` (default: auto)",
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's mode
    parser.add_argument("--into", type=Path, help=argparse.SUPPRESS)  # the child's result
    args = parser.parse_args()
    if args.measure is not None:
        args.into.write_text(json.dumps(measure(args.measure, args.executor)))
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    sizes += [LARGE_BOOK] if args.with_100k else []
    adopt_orphans()
    runs = []
    for accounts in sizes:
        runs.append(run_size(accounts, args.executor))
        print(report(runs[-1]), flush=True)
    if len(runs) > 1:
        print(scaling_report(runs))
    executor = args.executor
    RESULTS.mkdir(exist_ok=True)
    result = RESULTS / f"pipeline-{executor}.json"
    result.write_text(json.dumps(runs, indent=2, sort_keys=True) + "\n")
    stage_chart(runs, RESULTS / f"pipeline-{executor}.png")
    print(f"wrote {result} and {result.with_suffix('.png')}")


if __name__ == "__main__":
    main()
