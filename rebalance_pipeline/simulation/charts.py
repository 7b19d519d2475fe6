"""The simulation report's plots: Altair charts, rendered to PNG by the daily report's
``charts.png`` (same data, same bytes). One point per policy variant (colour: the
policy, shape: the tax aversion), over all account groups."""

from __future__ import annotations

import altair as alt
import polars as pl

from rebalance_pipeline.daily_report.charts import HEIGHT, WIDTH

TAX_AVERSIONS = ["low", "medium", "high"]


def _variant_points(metrics: pl.DataFrame, title: str, x: alt.X, y: alt.Y) -> alt.Chart:
    return (
        alt.Chart(metrics, title=title)
        .mark_point(filled=True, size=80, opacity=0.8)
        .encode(
            x=x,
            y=y,
            color=alt.Color("policy:N", title="policy"),
            shape=alt.Shape("tax_aversion:N", sort=TAX_AVERSIONS, title="tax aversion"),
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def frontier_chart(metrics: pl.DataFrame) -> alt.Chart:
    """Tracking error against taxes + costs, both a year; the frontier runs from the
    bottom left (``metrics``: the "all" rows of ``simulation_metrics``)."""
    return _variant_points(
        metrics,
        "Tracking error vs taxes + costs, one point per variant",
        alt.X("taxes_and_costs_pct:Q", title="taxes + costs (% of value a year)"),
        alt.Y("tracking_error_pct:Q", title="tracking error (% a year)"),
    )


def trading_days_chart(metrics: pl.DataFrame) -> alt.Chart:
    """Tracking error against the steady-state trading days per account a year."""
    return _variant_points(
        metrics,
        "Trading days vs tracking error, one point per variant",
        alt.X("trading_days_per_year:Q", title="trading days per account a year"),
        alt.Y("tracking_error_pct:Q", title="tracking error (% a year)"),
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
