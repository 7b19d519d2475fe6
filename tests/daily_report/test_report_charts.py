"""The report's plots are the same PNG bytes for the same data, in any process."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import altair as alt
import polars as pl

from rebalance_pipeline.daily_report import charts

RENDER = """
import hashlib, polars as pl
from rebalance_pipeline.daily_report import charts
frame = pl.DataFrame({"custodian": ["alder", "birch"], "side": ["buy", "sell"], "trades": [3, 5]})
print(hashlib.sha256(charts.png(charts.custodian_chart(frame))).hexdigest())
"""


def test_a_chart_renders_to_the_same_png_bytes_in_another_process():
    frame = pl.DataFrame(
        {"custodian": ["alder", "birch"], "side": ["buy", "sell"], "trades": [3, 5]}
    )
    here = hashlib.sha256(charts.png(charts.custodian_chart(frame))).hexdigest()
    there = subprocess.run(
        [sys.executable, "-c", RENDER], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert here == there


def test_a_chart_of_more_rows_than_altairs_browser_limit_renders():
    """A year of 21 simulation variants is 5,292 points: rendered offline to a PNG, no
    browser needs protecting from the inline data (Altair's limit is 5,000 rows)."""
    rows = pl.DataFrame({"day": range(5_292), "value": [float(i % 7) for i in range(5_292)]})
    chart = alt.Chart(rows).mark_line().encode(x="day:Q", y="value:Q")
    assert charts.png(chart).startswith(b"\x89PNG")
