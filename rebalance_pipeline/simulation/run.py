"""Every variant of a configuration over one world, written as Parquet per variant, and
the report on them; the threshold sweep of an account group."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import polars as pl

from rebalance_pipeline.policy import Policy, ThresholdCurve
from rebalance_pipeline.simulation.config import SimulationConfig, Variant
from rebalance_pipeline.simulation.engine import simulate
from rebalance_pipeline.simulation.metrics import MetricSettings, simulation_metrics
from rebalance_pipeline.simulation.policies import variant_policy
from rebalance_pipeline.simulation.report import write_report
from rebalance_pipeline.simulation.sweep import SweepPoint, SweepResult, sweep_threshold
from rebalance_pipeline.simulation.world import World, build_world

ACCOUNT_DAYS_FILE = "account_days.parquet"
FILLS_FILE = "fills.parquet"


def variant_dir(out: Path, variant: Variant) -> Path:
    """``out/<policy>/tax-<aversion>``: the variant's name as a folder path."""
    return out / variant.name


def run_simulation(
    config: SimulationConfig,
    out: Path,
    done: Callable[[Variant], None] | None = None,
    workers: int = 1,
) -> list[Path]:
    """Simulate every variant on the same prices and cash flows, ``workers`` variants at
    a time in processes of their own (each variant is independent: the same files
    whatever the number); the folders written, in the config's order."""
    world = build_world(config)
    variants = config.variants()
    if workers <= 1:
        return [_write_variant(config, variant, world, out, done) for variant in variants]
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {
            variant: pool.submit(_write_variant, config, variant, world, out)
            for variant in pool_order(config, variants)
        }
        for variant, future in futures.items():
            future.result()
            if done:
                done(variant)
    return [futures[variant].result() for variant in variants]


def pool_order(config: SimulationConfig, variants: list[Variant]) -> list[Variant]:
    """The variants in the order the pool starts them: those whose trigger optimizes
    every account every day (cost/benefit, about three times the others' time) first,
    so that the last variants running side by side are short ones; else as given."""
    return sorted(
        variants, key=lambda v: variant_policy(config, v).workflow.trigger != "cost_benefit"
    )


def _write_variant(
    config: SimulationConfig,
    variant: Variant,
    world: World,
    out: Path,
    done: Callable[[Variant], None] | None = None,
) -> Path:
    account_days, fills = simulate(config, variant, world)
    folder = variant_dir(out, variant)
    folder.mkdir(parents=True, exist_ok=True)
    account_days.write_parquet(folder / ACCOUNT_DAYS_FILE)
    fills.write_parquet(folder / FILLS_FILE)
    if done:
        done(variant)
    return folder


def report_simulation(config: SimulationConfig, out: Path) -> list[Path]:
    """Metrics and report (``write_report``) of the variants ``run_simulation`` wrote
    under ``out``; the files written."""
    account_days = pl.concat(
        pl.read_parquet(variant_dir(out, variant) / ACCOUNT_DAYS_FILE)
        for variant in config.variants()
    )
    settings = MetricSettings()
    description = (
        f"{config.accounts} accounts in {config.households} households, {config.days} "
        f"business days from {config.start_date}, seed {config.seed}; every variant on the "
        "same prices and cash flows.",
    )
    metrics = simulation_metrics(account_days, settings)
    return write_report(out, metrics, account_days, settings, description)


def sweep_group(
    config: SimulationConfig, group: str, target_days: float, world: World | None = None
) -> SweepResult:
    """The threshold curve of ``group`` (cost/benefit with decay, the config's first tax
    aversion) whose simulation trades ``target_days`` a year per account in steady state."""
    world = world or build_world(config)
    (base,) = [g.threshold for g in Policy().account_groups if g.name == group]
    settings = MetricSettings()

    def evaluate(curve: ThresholdCurve) -> SweepPoint:
        variant = Variant("cost-benefit-decay", config.tax_aversions[0], ((group, curve),))
        account_days, _ = simulate(config, variant, world)
        metrics = simulation_metrics(account_days, settings)
        (row,) = metrics.filter(pl.col("account_group") == group).iter_rows(named=True)
        return SweepPoint(row["trading_days_per_year"], row["tracking_error_pct"])

    return sweep_threshold(target_days, evaluate, base)
