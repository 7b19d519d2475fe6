"""Warm the forkserver the step processes are forked from (imported by it, last of
``executor.PRELOADED_MODULES``).

A forked step process inherits the forkserver's memory: the imported modules, and also
every cache those modules fill lazily on first use — Python's ABC subclass caches
behind Dagster's type checks, SQLAlchemy's per-class and per-statement caches, Dagster's
serializers. A forkserver that only imported leaves all of them empty, so every step
process filled them again while writing its events and loading its inputs. Importing
this module runs one tiny two-asset job, with a blocking asset check, on a throwaway
instance stored like the real one (``runner.instance_config``), so each step process
starts with them filled. Nothing of it outlives the import, and a warm-up that fails
only leaves the step processes as slow as before: it never stops the forkserver.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import dagster as dg

from rebalance_pipeline.runner import instance_config


@dg.asset
def _first() -> int:
    return 1


@dg.asset_check(asset=_first, blocking=True)
def _first_is_positive(_first: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=_first > 0)


@dg.asset
def _second(_first: int) -> int:
    return _first + 1


def warm_up() -> None:
    """Materialize the two assets once on a throwaway SQLite instance."""
    with tempfile.TemporaryDirectory(prefix="rebalance-warmup-") as folder:
        home = Path(folder)
        (home / "dagster.yaml").write_text(instance_config(home))
        with dg.DagsterInstance.from_config(folder) as instance:
            dg.materialize([_first, _first_is_positive, _second], instance=instance)


try:
    warm_up()
except Exception as error:  # a cold forkserver is slower, not wrong
    logging.getLogger(__name__).warning("step processes start cold: %s", error)
