"""The closed loop over the small configuration: every simulated day the fills reconcile
with the books, no wash sale across a household, no trade for an account that was not
free to trade, no lot sold twice, days since the last trade reset on trading days only."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline.simulation.config import SimulationConfig, Variant, load_config
from rebalance_pipeline.simulation.engine import simulate, simulated_days
from rebalance_pipeline.simulation.records import ACCOUNT_DAYS, FILLS
from rebalance_pipeline.simulation.world import build_world
from tests.simulation.invariants import annotated, day_violations

SMALL = Path(__file__).resolve().parents[2] / "rebalance_pipeline/simulation/configs/small.yaml"
# the default suite runs a shorter stretch of the small configuration (one variant of the
# whole of it takes about a minute on one core); `make test-simulation` runs all of it
DEFAULT_DAYS = 25


def small(days: int | None = None) -> SimulationConfig:
    config = load_config(SMALL)
    return config if days is None else config.model_copy(update={"days": days})


def violations(config: SimulationConfig, variant: Variant) -> tuple[list[str], int]:
    """Every invariant violation of every simulated day, and the number of fills."""
    world = build_world(config)
    found: list[str] = []
    history = pl.DataFrame()
    yesterday = None
    for today in simulated_days(config, variant, world):
        found += day_violations(world, yesterday, today, history)
        history = pl.concat([history, annotated(yesterday, today)], how="diagonal_relaxed")
        yesterday = today
    return found, history.height


def test_invariants_hold_every_day_of_a_cost_benefit_run():
    found, fills = violations(small(DEFAULT_DAYS), Variant("cost-benefit-decay", "medium"))
    assert fills > 0, "nothing traded: the invariants were never exercised"
    assert found == []


@pytest.mark.simulation
@pytest.mark.parametrize(
    "variant",
    [
        Variant("cost-benefit-decay", "high"),
        Variant("calendar-monthly", "low"),
        Variant("band-relative", "medium"),
    ],
    ids=lambda v: v.name,
)
def test_invariants_hold_every_day_of_the_small_configuration(variant):
    found, fills = violations(small(), variant)
    assert fills > 0
    assert found == []


def test_records_follow_the_contract_and_repeat_with_the_seed():
    config = small(4)
    variant = Variant("calendar-quarterly", "low")
    first = simulate(config, variant)
    second = simulate(config, variant)
    assert first[0].schema == ACCOUNT_DAYS and first[1].schema == FILLS
    assert first[0].height == 4 * config.accounts
    assert first[0].equals(second[0]) and first[1].equals(second[1])


def test_simulate_command_writes_the_records_of_every_variant(tmp_path):
    from typer.testing import CliRunner

    from rebalance_pipeline.cli import app

    config = tmp_path / "sim.yaml"
    config.write_text(
        "accounts: 6\nhouseholds: 3\ndays: 3\n"
        "policies: [cost-benefit-decay, band-absolute]\ntax_aversions: [low]\n"
    )
    result = CliRunner().invoke(app, ["simulate", "--config", str(config), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("cost-benefit-decay/tax-low", "band-absolute/tax-low"):
        days = pl.read_parquet(tmp_path / name / "account_days.parquet")
        assert days["variant"].unique().to_list() == [name]
        assert days.height == 3 * 6
        assert pl.read_parquet(tmp_path / name / "fills.parquet").schema == FILLS
    metrics = pl.read_csv(tmp_path / "metrics.csv")
    assert sorted(metrics["variant"].unique()) == [
        "band-absolute/tax-low",
        "cost-benefit-decay/tax-low",
    ]
    page = (tmp_path / "report.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") == 3
    assert f"wrote {tmp_path / 'report.html'}" in result.output


def test_sweep_names_its_form_when_given_another(tmp_path):
    from typer.testing import CliRunner

    from rebalance_pipeline.cli import app

    config = tmp_path / "sim.yaml"
    config.write_text("accounts: 6\nhouseholds: 3\ndays: 3\n")
    arguments = ["simulate", "--config", str(config), "--sweep", "small"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert "--sweep small: give GROUP=DAYS, e.g. small=8" in result.output


def test_simulate_command_names_a_wrong_config_field(tmp_path):
    from typer.testing import CliRunner

    from rebalance_pipeline.cli import app

    config = tmp_path / "sim.yaml"
    config.write_text("accounts: 6\nhouseholds: 3\npolicies: [calendar-weekly]\n")
    result = CliRunner().invoke(app, ["simulate", "--config", str(config), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "policies" in result.output and "calendar-weekly" in result.output


def test_variants_simulated_in_parallel_write_the_same_records(tmp_path):
    from rebalance_pipeline.simulation.run import ACCOUNT_DAYS_FILE, FILLS_FILE, run_simulation

    config = SimulationConfig(
        accounts=6,
        households=3,
        days=3,
        policies=["cost-benefit-decay", "band-absolute"],
        tax_aversions=["low"],
    )
    one = run_simulation(config, tmp_path / "one", workers=1)
    two = run_simulation(config, tmp_path / "two", workers=2)
    assert [p.relative_to(tmp_path / "one") for p in one] == [
        p.relative_to(tmp_path / "two") for p in two
    ]
    for first, second in zip(one, two, strict=True):
        for name in (ACCOUNT_DAYS_FILE, FILLS_FILE):
            assert pl.read_parquet(first / name).equals(pl.read_parquet(second / name))


def test_the_pool_starts_the_variants_that_optimize_every_account_first():
    from rebalance_pipeline.simulation.run import pool_order

    config = SimulationConfig(tax_aversions=["low", "high"])
    order = [variant.name for variant in pool_order(config, config.variants())]
    # the cost/benefit trigger solves every account every day; the others solve only
    # accounts with a mandate or on a calendar day: the short ones fill the pool's tail
    assert order[:4] == [
        "cost-benefit-fixed/tax-low",
        "cost-benefit-fixed/tax-high",
        "cost-benefit-decay/tax-low",
        "cost-benefit-decay/tax-high",
    ]
    assert sorted(order) == sorted(variant.name for variant in config.variants())
