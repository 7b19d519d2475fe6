"""The report's plots are the same PNG bytes for the same data, in any process."""

from __future__ import annotations

import hashlib
import subprocess
import sys

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
