"""Where a simulated day's time goes: one variant of a simulation configuration under
cProfile, its seconds per simulated day split by stage.

    .venv/bin/python benchmarks/bench_simulation.py --config small --days 20
    .venv/bin/python benchmarks/bench_simulation.py --config full --days 10 \
        --variant cost-benefit-decay/tax-medium --profile var/bench/sim.prof

The world (prices, cash flows) is built before the clock starts. Each stage's seconds are
cProfile's cumulative time of the function that runs it (profiling inflates Python-heavy
code more than native code: compare runs of this script with each other, and take the
plain wall and CPU per day, printed first, as the real speed; CPU is the one to compare
when other work loads the machine). ``--profile`` keeps the raw
profile for ``python -m pstats``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[1] / "rebalance_pipeline/simulation/configs"

# (label, module path suffix, function name): the stages of one simulated day
STAGES = [
    ("book from the simulated state", "simulation/engine.py", "_book"),
    ("validation", "validation/validate.py", "validate_book"),
    ("features SQL", "features/runner.py", "run_models"),
    ("optimization: build problems", "optimization/problem_table.py", "build_problems"),
    ("optimization: solve", "optimization/shards.py", "optimize_shard"),
    ("routing", "routing/route.py", "route_accounts"),
    ("compliance", "compliance/stage.py", "apply_compliance"),
    ("fills and bookkeeping", "simulation/engine.py", "_fill_orders"),
    ("cash flows", "simulation/engine.py", "_settle_cash_flows"),
    ("records", "simulation/engine.py", "_account_days"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", help="small, full or a YAML path")
    parser.add_argument("--days", type=int, default=20, help="simulated days (from the start)")
    parser.add_argument("--variant", default="cost-benefit-decay/tax-medium")
    parser.add_argument("--profile", type=Path, help="write the raw cProfile stats here")
    parser.add_argument("--time-only", action="store_true", help="no profiled run")
    args = parser.parse_args()

    from rebalance_pipeline.simulation.config import Variant, load_config
    from rebalance_pipeline.simulation.engine import simulated_days
    from rebalance_pipeline.simulation.world import build_world

    path = CONFIGS / f"{args.config}.yaml" if "/" not in args.config else Path(args.config)
    config = load_config(path).model_copy(update={"days": args.days})
    policy, tax = args.variant.split("/tax-")
    variant = Variant(policy, tax)  # type: ignore[arg-type]
    world = build_world(config)

    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in simulated_days(config, variant, world):
        pass
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(f"{config.accounts} accounts, {args.days} days, {variant.name}")
    print(f"load average (1 min) {os.getloadavg()[0]:.2f}")
    print(f"wall per simulated day (unprofiled)  {wall / args.days:8.3f} s")
    print(f"CPU per simulated day (unprofiled)   {cpu / args.days:8.3f} s")
    if args.time_only:
        return

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in simulated_days(config, variant, world):
        pass
    profiler.disable()
    stats = pstats.Stats(profiler)
    if args.profile:
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        stats.dump_stats(args.profile)
    cumulative = {
        (file, name): entry[3]
        for (file, _, name), entry in stats.stats.items()  # type: ignore[attr-defined]
    }
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"profiled per simulated day            {total / args.days:8.3f} s")
    for label, suffix, name in STAGES:
        seconds = sum(
            s for (file, fn), s in cumulative.items() if fn == name and file.endswith(suffix)
        )
        print(f"  {label:<34} {seconds / args.days:8.3f} s  {100 * seconds / total:5.1f}%")


if __name__ == "__main__":
    main()
