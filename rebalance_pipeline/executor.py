"""Where the steps of a daily run execute: the choices of the daily job's executor
(``definitions.pipeline_executor``). Free of Dagster, so the command line can offer them
without importing it.

Starting a fresh interpreter per step (Dagster's default ``spawn``) costs seconds of
imports each time; the multiprocess choice forks every step from a ``forkserver`` that
imports ``PRELOADED_MODULES`` once per run. One process is enough, and cheaper, for a
date whose accounts make a single optimization shard: there is nothing to run in
parallel (``auto``).
"""

from __future__ import annotations

import enum


class ExecutorChoice(enum.StrEnum):
    """The key of the executor's config selector (``auto`` is resolved before a run)."""

    AUTO = "auto"  # in_process for a single shard's worth of accounts, else multiprocess
    IN_PROCESS = "in_process"  # one step after another in the launching process
    MULTIPROCESS = "multiprocess"  # one child process per step on this machine
    CELERY = "celery"  # dagster-celery workers, on this machine or others


# imported by most steps: once in the forkserver, inherited by every step process. Every
# step process also opens the Dagster instance (its SQLite storage: SQLAlchemy, Alembic)
# and rebuilds the job from ``runner.daily_job``; a module that is no longer there is
# skipped by the forkserver, so Dagster's private paths cost speed at worst.
PRELOADED_MODULES = [
    "rebalance_pipeline.definitions",
    "rebalance_pipeline.runner",
    "rebalance_pipeline.instance_storage",
    "cvxpy",
    "great_expectations",
    "pandera.polars",
    "dagster._core.instance.factory",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.storage.local_compute_log_manager",
    "rebalance_pipeline.forkserver_warmup",  # last: it runs what the others import
]
MULTIPROCESS_CONFIG = {"start_method": {"forkserver": {"preload_modules": PRELOADED_MODULES}}}


def resolve(choice: ExecutorChoice, shards: int | None) -> ExecutorChoice:
    """``auto`` made concrete. ``shards``: how many optimization shards the book's
    accounts make (None when they cannot be counted before the run: it runs multiprocess
    and the run reports the firm file's fault)."""
    if choice is not ExecutorChoice.AUTO:
        return choice
    return ExecutorChoice.IN_PROCESS if shards == 1 else ExecutorChoice.MULTIPROCESS
