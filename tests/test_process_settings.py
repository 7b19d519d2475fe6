"""Settings every process that runs pipeline code gets when it imports the package."""

from __future__ import annotations

import subprocess
import sys

# counts the collections of the youngest generation while 100,000 lists that stay alive
# are made, in a fresh interpreter that has imported the package
YOUNG_COLLECTIONS = """
import gc
import rebalance_pipeline

young = []
gc.callbacks.append(lambda phase, info: phase == "start" and young.append(info["generation"]))
kept = [[] for _ in range(100_000)]
print(young.count(0))
"""


def test_the_young_generation_is_collected_less_often_than_by_default():
    """A date makes millions of short-lived containers: at Python's default (a collection
    every 700 new containers) the collector walked the libraries' long-lived objects for
    about a tenth of the date's CPU."""
    result = subprocess.run(
        [sys.executable, "-c", YOUNG_COLLECTIONS], capture_output=True, text=True, check=True
    )
    assert int(result.stdout) < 100_000 // 700 // 4
