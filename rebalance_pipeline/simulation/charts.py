"""The simulation report's plots: Altair charts, rendered to PNG by the daily report's
``charts.png`` (same data, same bytes). One point per policy variant (colour: the
policy, shape: the tax aversion), over all account groups."""

from __future__ import annotations

from collections.abc import Callable

import altair as alt
import polars as pl

from rebalance_pipeline.daily_report.charts import HEIGHT, WIDTH

TAX_AVERSIONS = ["low", "medium", "high"]


def _against_tracking_error(
    title: str, column: str, axis_title: str
) -> Callable[[pl.DataFrame], alt.Chart]:
    """A chart of the variants' tracking error against ``column`` (``metrics``: the
    "all" rows of ``simulation_metrics``)."""

    def chart(metrics: pl.DataFrame) -> alt.Chart:
        return (
            alt.Chart(metrics, title=title)
            .mark_point(filled=True, size=80, opacity=0.8)
            .encode(
                x=alt.X(f"{column}:Q", title=axis_title),
                y=alt.Y("tracking_error_pct:Q", title="tracking error (% a year)"),
                color=alt.Color("policy:N", title="policy"),
                shape=alt.Shape("tax_aversion:N", sort=TAX_AVERSIONS, title="tax aversion"),
            )
            .properties(width=WIDTH, height=HEIGHT)
        )

    return chart


# the frontier runs from the bottom left
frontier_chart = _against_tracking_error(
    "Tracking error vs taxes + costs, one point per variant",
    "taxes_and_costs_pct",
    "taxes + costs (% of value a year)",
)
trading_days_chart = _against_tracking_error(
    "Trading days vs tracking error, one point per variant",
    "trading_days_per_year",
    "steady-state trading days per account a year",
)


def harvested_chart(harvested: pl.DataFrame) -> alt.Chart:
    """Cumulative harvested losses in dollars per variant over the simulated days
    (``report.cumulative_harvested``)."""
    return (
        alt.Chart(harvested, title="Cumulative harvested losses per variant")
        .mark_line()
        .encode(
            x=alt.X("day:T", title="day"),
            y=alt.Y("harvested_losses:Q", title="harvested losses ($)"),
            color=alt.Color("policy:N", title="policy"),
            strokeDash=alt.StrokeDash("tax_aversion:N", sort=TAX_AVERSIONS, title="tax aversion"),
            detail="variant:N",
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
