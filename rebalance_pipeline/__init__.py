"""The daily rebalancing pipeline.

Importing the package sets how often the cyclic garbage collector runs, for every process
that runs pipeline code (the CLI, the forkserver the step processes are forked from and
so the step processes, Dagster's code server). By default Python collects the youngest
generation every 700 new containers, the middle one every 10 of those and the oldest,
which holds the ~400k long-lived objects of the imported libraries (Dagster, Great
Expectations, pandas, CVXPY), whenever a quarter more has reached it: a date makes
millions of short-lived containers, and the collector took ~1.45 of the 300-account sample
date's CPU-s, walking the same long-lived objects again and again. Collecting the youngest
generation every 20,000 containers and the middle one every 40 of those takes ~0.5.
Garbage is still freed as before when nothing refers to it; only reference cycles wait a
little longer.
"""

import gc

YOUNG_GENERATION_THRESHOLD = 20_000  # new containers between collections of the youngest
MIDDLE_GENERATION_THRESHOLD = 40  # collections of the youngest between those of the middle

gc.set_threshold(YOUNG_GENERATION_THRESHOLD, MIDDLE_GENERATION_THRESHOLD, gc.get_threshold()[2])
