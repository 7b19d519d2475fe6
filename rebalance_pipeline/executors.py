"""How the steps of a date run: every step in the calling process, or each step in a
process of its own forked from a server that has already imported what the steps need.

Starting a fresh interpreter per step (Dagster's default ``spawn``) costs seconds of
imports each time; the ``forkserver`` imports ``PRELOADED_MODULES`` once per run and
forks every step from it. One process is enough, and cheaper, for a date whose accounts
make a single optimization shard: there is nothing to run in parallel (``auto``).
"""

from __future__ import annotations

import enum
import os

# imported by most steps: once in the forkserver, inherited by every step process
PRELOADED_MODULES = [
    "rebalance_pipeline.definitions",
    "cvxpy",
    "great_expectations",
    "pandera.polars",
]
FORKSERVER = {"forkserver": {"preload_modules": PRELOADED_MODULES}}
MULTIPROCESS = {"multiprocess": {"start_method": FORKSERVER}}
IN_PROCESS: dict = {"in_process": {}}


class Executor(enum.StrEnum):
    AUTO = "auto"  # one process for a single shard's worth of accounts, else multiprocess
    IN_PROCESS = "in-process"
    MULTIPROCESS = "multiprocess"


def execution_config(executor: Executor, shards: int | None) -> dict:
    """The run config's ``execution`` section. ``shards``: how many optimization shards
    the book's accounts make, for ``auto`` (None when they cannot be counted before the
    run: it runs multiprocess, and the run reports the firm file's fault)."""
    if executor is Executor.AUTO:
        executor = Executor.IN_PROCESS if shards == 1 else Executor.MULTIPROCESS
    return {"config": IN_PROCESS if executor is Executor.IN_PROCESS else MULTIPROCESS}


def available_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))
