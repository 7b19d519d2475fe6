"""The daily report's plots: Altair charts rendered to PNG by vl-convert, offline.

vl-convert renders with its own bundled engine and fonts, so the same data give the same
PNG bytes (checked by the report's tests); the scale is fixed, never the screen's.
"""

from __future__ import annotations

import altair as alt
import polars as pl
import vl_convert

SCALE = 1  # one PNG pixel per CSS pixel: small pages
WIDTH = 420
HEIGHT = 240


def png(chart: alt.Chart) -> bytes:
    """The chart as PNG bytes. Its data are inlined whatever their size: Altair's row
    limit protects a browser, and the image is rendered here, offline."""
    with alt.data_transformers.enable("default", max_rows=None):
        spec = chart.to_dict()  # as a dict: vl-convert reads it without a JSON text between
    return vl_convert.vegalite_to_png(spec, scale=SCALE)


def drift_chart(drift: pl.DataFrame) -> alt.Chart:
    """Grouped bars of mean absolute drift before vs after per asset class
    (``daily.drift_before_after``)."""
    long = drift.unpivot(
        ["before", "after"], index="asset_class", variable_name="when", value_name="drift"
    )
    return (
        alt.Chart(long, title="Mean absolute drift from target, accounts with trades")
        .mark_bar()
        .encode(
            x=alt.X("asset_class:N", title="asset class"),
            xOffset=alt.XOffset("when:N", sort=["before", "after"]),
            y=alt.Y("drift:Q", title="percentage points"),
            color=alt.Color("when:N", sort=["before", "after"], title=None),
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def score_chart(scored: pl.DataFrame) -> alt.Chart:
    """Score against threshold per account (``daily.scored_accounts``), one colour per
    account group; above the diagonal the score beats the threshold."""
    plotted = scored.select("threshold_bps", "score_bps", "account_group")  # one per point
    points = (
        alt.Chart(plotted, title="Score vs threshold per account")
        .mark_point(filled=True, opacity=0.7)
        .encode(
            x=alt.X("threshold_bps:Q", title="threshold (bps)"),
            y=alt.Y("score_bps:Q", title="score (bps)"),
            color=alt.Color("account_group:N", title="account group"),
        )
    )
    low = min(scored["threshold_bps"].min(), scored["score_bps"].min(), 0.0)
    high = max(scored["threshold_bps"].max(), scored["score_bps"].max())
    diagonal = pl.DataFrame({"x": [low, high], "y": [low, high]})
    line = alt.Chart(diagonal).mark_line(color="gray", strokeDash=[4, 4]).encode(x="x:Q", y="y:Q")
    return (points + line).properties(width=WIDTH, height=HEIGHT)


def custodian_chart(per_custodian: pl.DataFrame) -> alt.Chart:
    """Stacked bars of released trades per custodian and side
    (``daily.trades_per_custodian``)."""
    return (
        alt.Chart(per_custodian, title="Released trades per custodian")
        .mark_bar()
        .encode(
            x=alt.X("custodian:N", title="custodian"),
            y=alt.Y("trades:Q", title="trades"),
            color=alt.Color("side:N", sort=["buy", "sell"], title=None),
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
