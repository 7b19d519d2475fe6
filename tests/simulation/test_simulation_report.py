"""The simulation report: the dominance rule, the published figures, and the files:
self-contained and the same bytes every time."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline.simulation.metrics import DEFAULT_SETTINGS, simulation_metrics
from rebalance_pipeline.simulation.report import (
    dominance,
    dominance_lines,
    dominates,
    published_section,
    write_report,
)
from tests.simulation.simulated_days import account_days

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def point(tracking_error: float | None, taxes_and_costs: float | None) -> dict:
    return {"tracking_error_pct": tracking_error, "taxes_and_costs_pct": taxes_and_costs}


@pytest.mark.parametrize(
    ("challenger", "incumbent", "expected"),
    [
        (point(0.2, 0.1), point(0.3, 0.2), True),  # better on both
        (point(0.3, 0.1), point(0.3, 0.2), True),  # equal risk, cheaper
        (point(0.2, 0.2), point(0.3, 0.2), True),  # equal cost, less risk
        (point(0.3, 0.2), point(0.3, 0.2), False),  # the same: nothing strict
        (point(0.2, 0.3), point(0.3, 0.2), False),  # a trade-off, not dominance
        (point(0.4, 0.3), point(0.3, 0.2), False),  # worse on both
        (point(None, 0.1), point(0.3, 0.2), False),  # no figure: not compared
    ],
)
def test_dominance_needs_no_worse_on_both_and_better_on_one(challenger, incumbent, expected):
    assert dominates(challenger, incumbent) is expected


def metrics_row(variant: str, tracking_error: float, costs: float, group: str = "all") -> dict:
    policy, tax_aversion = variant.split("/tax-")
    return {
        "variant": variant,
        "policy": policy,
        "tax_aversion": tax_aversion,
        "account_group": group,
        "tracking_error_pct": tracking_error,
        "taxes_and_costs_pct": costs,
    }


def test_a_cost_benefit_variant_dominates_only_at_the_same_tax_aversion():
    metrics = pl.DataFrame(
        [
            metrics_row("calendar-monthly/tax-low", 0.30, 0.20),
            metrics_row("band-absolute/tax-high", 0.30, 0.20),
            metrics_row("cost-benefit-decay/tax-low", 0.10, 0.10),
        ]
    )
    assert [(row["variant"], by) for row, by in dominance(metrics)] == [
        ("calendar-monthly/tax-low", ["cost-benefit-decay/tax-low"]),
        ("band-absolute/tax-high", []),
    ]


def test_the_paragraph_counts_the_dominated_and_names_the_others_with_their_numbers():
    metrics = pl.DataFrame(
        [
            metrics_row(variant, risk, costs, group)
            for group in ("all", "small")
            for variant, risk, costs in (
                ("calendar-monthly/tax-medium", 0.30, 0.20),
                ("calendar-annual/tax-medium", 0.05, 0.90),
                ("band-relative/tax-medium", 0.40, 0.30),
                ("cost-benefit-fixed/tax-medium", 0.20, 0.15),
            )
        ]
    )
    lines = dominance_lines(metrics)
    assert "dominated 2 of the 3 calendar and band variants" in lines[0]
    assert lines[1] == (
        "Not dominated: calendar-annual/tax-medium (tracking error 0.05%, taxes + costs "
        "0.90% a year)."
    )
    assert lines[2] == "Dominated per account group: small 2 of 3."


def test_without_cost_benefit_variants_there_is_nothing_to_compare():
    metrics = pl.DataFrame([metrics_row("calendar-monthly/tax-medium", 0.3, 0.2)])
    assert dominance_lines(metrics) == (
        "The run has no cost/benefit variant or no calendar or band variant to compare.",
    )


def simulated(days: int = 40) -> pl.DataFrame:
    """Three variants, two accounts each; rarer calendar trading drifts further."""
    noise = [(-1) ** day for day in range(days)]
    frames = []
    for variant, drift, every, cost in (
        ("calendar-monthly/tax-medium", 0.001, 21, 40.0),
        ("calendar-annual/tax-medium", 0.004, 252, 10.0),
        ("cost-benefit-decay/tax-medium", 0.0005, 10, 5.0),
    ):
        for account, group in (("A1", "small"), ("A2", "mid")):
            frames.append(
                account_days(
                    days,
                    variant=variant,
                    account_id=account,
                    account_group=group,
                    account_return=[drift * sign for sign in noise],
                    traded_days=range(0, days, every),
                    turnover=10_000.0,
                    transaction_costs=cost,
                    harvested_losses=500.0,
                )
            )
    return pl.concat(frames)


def test_the_published_figures_sit_beside_this_runs_calendar_variants():
    frame = simulated()
    section = published_section(simulation_metrics(frame), DEFAULT_SETTINGS, days=40)
    (table,) = section.tables
    rows = {row[0]: row for row in table.rows}
    assert rows["monthly"][1:3] == ("0.21%", "52.70%")
    assert rows["hold"][1:] == ("1.53%", "0.00%", "", "")
    assert rows["monthly"][3].endswith("%") and rows["quarterly"][3] == ""
    text = " ".join(section.lines)
    assert "this run's tracking error rises, as published" in text
    assert "1.08% a year before costs, 0.82% with the wash-sale rule" in text


def test_the_report_files_are_self_contained_and_the_same_bytes_twice(tmp_path: Path):
    frame = simulated()
    metrics = simulation_metrics(frame)
    first = write_report(tmp_path / "first", metrics, frame, description=("Seed 7.",))
    second = write_report(tmp_path / "second", metrics, frame, description=("Seed 7.",))
    assert [path.name for path in first] == [
        "metrics.csv",
        "metrics.md",
        "report.html",
        "frontier.png",
        "trading-days.png",
        "harvested.png",
    ]
    for one, other in zip(first, second, strict=True):
        assert one.read_bytes() == other.read_bytes(), one.name
    html = (tmp_path / "first" / "report.html").read_text()
    assert not re.search(r"https?:", html)
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    images = [source for source in sources if source.startswith("data:image/png;base64,")]
    assert len(images) == 3
    assert all(source.startswith("#") for source in set(sources) - set(images))
    for image in images:
        assert base64.b64decode(image.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    assert "Seed 7." in html
    assert (tmp_path / "first" / "frontier.png").read_bytes().startswith(PNG_SIGNATURE)
    markdown = (tmp_path / "first" / "metrics.md").read_text()
    assert "| cost-benefit-decay/tax-medium | all | 2 |" in markdown
    assert pl.read_csv(tmp_path / "first" / "metrics.csv").height == metrics.height
