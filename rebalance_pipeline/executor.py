"""Where the steps of a daily run execute: the choices of the daily job's executor
(``definitions.pipeline_executor``). Free of Dagster, so the command line can offer them
without importing it."""

from __future__ import annotations

import enum


class ExecutorChoice(enum.StrEnum):
    """The key of the executor's config selector."""

    IN_PROCESS = "in_process"  # one step after another in the launching process
    MULTIPROCESS = "multiprocess"  # one child process per step on this machine
    CELERY = "celery"  # dagster-celery workers, on this machine or others
