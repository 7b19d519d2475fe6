"""Every variant of a configuration over one world, written as Parquet per variant."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rebalance_pipeline.simulation.config import SimulationConfig, Variant
from rebalance_pipeline.simulation.engine import simulate
from rebalance_pipeline.simulation.world import build_world

ACCOUNT_DAYS_FILE = "account_days.parquet"
FILLS_FILE = "fills.parquet"


def variant_dir(out: Path, variant: Variant) -> Path:
    """``out/<policy>/tax-<aversion>``: the variant's name as a folder path."""
    return out / variant.name


def run_simulation(
    config: SimulationConfig, out: Path, done: Callable[[Variant], None] | None = None
) -> list[Path]:
    """Simulate every variant on the same prices and cash flows; the folders written."""
    world = build_world(config)
    written = []
    for variant in config.variants():
        account_days, fills = simulate(config, variant, world)
        folder = variant_dir(out, variant)
        folder.mkdir(parents=True, exist_ok=True)
        account_days.write_parquet(folder / ACCOUNT_DAYS_FILE)
        fills.write_parquet(folder / FILLS_FILE)
        written.append(folder)
        if done:
            done(variant)
    return written
