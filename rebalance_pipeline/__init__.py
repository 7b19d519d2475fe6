"""The daily rebalancing pipeline.

Importing the package sets how often the cyclic garbage collector runs, for every process
that runs pipeline code (the CLI, the forkserver the step processes are forked from and
so the step processes, Dagster's code server). By default Python collects the youngest
generation every 700 new containers and promotes what survives, so that the oldest
generation, which holds the ~400k long-lived objects of the imported libraries (Dagster,
Great Expectations, pandas, CVXPY), is walked whole again and again: a date makes millions
of short-lived containers, and the collector took ~1.5 of the 300-account sample date's
CPU-s. Collecting the youngest generation every 20,000 containers halves that.
"""

import gc

YOUNG_GENERATION_THRESHOLD = 20_000

gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
