"""Settings every process that runs pipeline code gets when it imports the package."""

from __future__ import annotations

import json
import subprocess
import sys

CONTAINERS = 1_000_000
# collections per generation while CONTAINERS lists that stay alive are made, in a fresh
# interpreter that has imported the package
COLLECTIONS = f"""
import gc, json
import rebalance_pipeline

started = []
gc.callbacks.append(lambda phase, info: phase == "start" and started.append(info["generation"]))
kept = [[] for _ in range({CONTAINERS})]
print(json.dumps([started.count(generation) for generation in range(3)]))
"""


def test_the_collector_walks_surviving_objects_less_often_than_by_default():
    """A date makes millions of short-lived containers: at Python's defaults (the youngest
    generation collected every 700 new containers, the middle one every 10 of those) the
    collector walked the same long-lived objects for about a tenth of the date's CPU."""
    result = subprocess.run(
        [sys.executable, "-c", COLLECTIONS], capture_output=True, text=True, check=True
    )
    young, middle, _ = json.loads(result.stdout)
    by_default = CONTAINERS // 700
    assert young + middle < by_default // 4
    assert middle < by_default // 10 // 4
