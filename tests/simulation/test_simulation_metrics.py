"""The simulation metrics on hand-built account days with known answers."""

from __future__ import annotations

import math
import random

import polars as pl
import pytest

from rebalance_pipeline.simulation.metrics import METRICS, MetricSettings, simulation_metrics
from tests.simulation.simulated_days import account_days

YEAR = 252


def row(metrics: pl.DataFrame, group: str = "all", variant: str | None = None) -> dict:
    if variant is not None:
        metrics = metrics.filter(pl.col("variant") == variant)
    (found,) = metrics.filter(pl.col("account_group") == group).to_dicts()
    return found


def test_tracking_error_is_the_annualized_std_of_the_active_return_mean_over_accounts():
    # active returns alternate +a / -a: sample std over an even number of days known
    days = 40
    calm = [0.001 * (-1) ** day for day in range(days)]
    wild = [0.003 * (-1) ** day for day in range(days)]
    frame = pl.concat(
        [
            account_days(days, account_id="A1", account_return=calm),
            account_days(days, account_id="A2", account_return=wild, model_return=0.0),
        ]
    )
    sample = math.sqrt(days / (days - 1))  # population std a -> sample std
    expected = (0.001 + 0.003) / 2 * sample * math.sqrt(YEAR) * 100
    assert row(simulation_metrics(frame))["tracking_error_pct"] == pytest.approx(expected)


def test_constant_active_return_has_no_tracking_error_but_shows_in_the_active_return():
    frame = account_days(30, account_return=0.0011, model_return=0.0010)
    found = row(simulation_metrics(frame))
    assert found["tracking_error_pct"] == pytest.approx(0.0, abs=1e-9)
    assert found["after_tax_active_return_pct"] == pytest.approx(0.0001 * YEAR * 100)


def test_a_trade_every_21_days_is_12_trading_days_a_year():
    days = 21 + 252
    frame = account_days(days, traded_days=range(0, days, 21))
    found = row(simulation_metrics(frame, MetricSettings(steady_state_days=21)))
    assert found["trading_days_per_year"] == pytest.approx(12.0)
    assert found["share_trading_per_day_pct"] == pytest.approx(100 / 21)


def test_the_first_days_are_left_out_of_the_trading_frequencies():
    # every day traded in the first month, none after it
    frame = account_days(60, traded_days=range(21))
    found = row(simulation_metrics(frame, MetricSettings(steady_state_days=21)))
    assert found["trading_days_per_year"] == 0.0
    assert found["share_trading_per_day_pct"] == 0.0


def test_share_of_accounts_trading_per_day_counts_the_accounts_of_the_group():
    # of four accounts one trades every day in steady state, the others never
    frame = pl.concat(
        [account_days(30, account_id="A1", traded_days=range(30))]
        + [account_days(30, account_id=f"A{n}") for n in (2, 3, 4)]
    )
    found = row(simulation_metrics(frame, MetricSettings(steady_state_days=5)))
    assert found["share_trading_per_day_pct"] == pytest.approx(25.0)
    assert found["trading_days_per_year"] == pytest.approx(YEAR / 4)


def test_turnover_is_one_way_a_year_as_a_share_of_the_average_value():
    # 126 days (half a year), two trades of 20k bought + sold on a 100k account:
    # one way 20k a half year = 40% a year
    frame = account_days(126, value=100_000.0, traded_days=(10, 70), turnover=20_000.0)
    assert row(simulation_metrics(frame))["turnover_pct"] == pytest.approx(40.0)


def test_taxes_costs_and_harvested_losses_are_summed_and_valued_at_the_stated_rate():
    frame = pl.concat(
        [
            account_days(
                YEAR,
                account_id=account,
                traded_days=(5, 100),
                taxes_paid=300.0,
                transaction_costs=50.0,
                harvested_losses=1_000.0,
            )
            for account in ("A1", "A2")
        ]
    )
    found = row(simulation_metrics(frame, MetricSettings(loss_tax_rate=0.2)))
    assert found["taxes_paid"] == 1_200.0
    assert found["transaction_costs"] == 200.0
    assert found["harvested_losses"] == 4_000.0
    assert found["harvested_value"] == pytest.approx(800.0)
    # 2,000 harvested a year per 100k account, worth 20% of it: 0.4% a year
    assert found["harvested_value_pct"] == pytest.approx(0.4)
    # a year on 100k: 700 of taxes and costs per account = 0.7%
    assert found["taxes_and_costs_pct"] == pytest.approx(0.7)
    # taxes paid come off the active return
    assert found["after_tax_active_return_pct"] == pytest.approx(-0.6)


def test_dispersion_is_across_the_accounts_of_one_model():
    # model M1: cumulative returns 0% and 2% -> std sqrt(2) %; model M2 alone: no spread
    frame = pl.concat(
        [
            account_days(1, account_id="A1", model_id="M1", account_return=[0.0]),
            account_days(1, account_id="A2", model_id="M1", account_return=[0.02]),
            account_days(1, account_id="A3", model_id="M2", account_return=[0.5]),
        ]
    )
    assert row(simulation_metrics(frame))["return_dispersion_pct"] == pytest.approx(math.sqrt(2))


def test_one_row_per_variant_and_group_and_one_for_all_groups():
    frame = pl.concat(
        [
            account_days(5, variant=variant, account_id=account, account_group=group)
            for variant in ("band-absolute/tax-low", "calendar-annual/tax-high")
            for account, group in (("A1", "small"), ("A2", "mid"), ("A3", "mid"))
        ]
    )
    metrics = simulation_metrics(frame)
    assert metrics.schema == METRICS
    assert metrics.select("variant", "account_group", "accounts").rows() == [
        ("band-absolute/tax-low", "all", 3),
        ("band-absolute/tax-low", "mid", 2),
        ("band-absolute/tax-low", "small", 1),
        ("calendar-annual/tax-high", "all", 3),
        ("calendar-annual/tax-high", "mid", 2),
        ("calendar-annual/tax-high", "small", 1),
    ]
    assert row(metrics, variant="calendar-annual/tax-high")["policy"] == "calendar-annual"
    assert row(metrics, variant="calendar-annual/tax-high")["tax_aversion"] == "high"


def test_the_metrics_do_not_depend_on_the_order_of_the_account_days():
    """The report's numbers are the same bytes whatever order the records come in (and
    whichever order Polars' threads finish the groups in)."""
    rng = random.Random(7)
    frame = pl.concat(
        account_days(
            60,
            variant=f"{policy}/tax-medium",
            account_id=f"A{number}",
            account_group=("small", "mid")[number % 2],
            model_id=f"M{number % 3}",
            value=rng.uniform(5e4, 5e6),
            account_return=[rng.gauss(0.0004, 0.01) for _ in range(60)],
            model_return=[rng.gauss(0.0004, 0.009) for _ in range(60)],
            traded_days=rng.sample(range(60), 6),
            turnover=rng.uniform(1e3, 1e5),
            taxes_paid=rng.uniform(0, 500),
            harvested_losses=rng.uniform(0, 900),
        )
        for policy in ("calendar-monthly", "cost-benefit-decay")
        for number in range(120)
    )
    expected = simulation_metrics(frame)
    for seed in range(6):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        assert simulation_metrics(shuffled).equals(expected), seed
