"""Fixtures shared across the suite."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def materialized_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dt.date]:
    """The sample book's latest date materialized in-process through the daily job:
    (home folder, date). Materialized once per test process."""
    from rebalance_pipeline.runner import latest_drop_date

    home = tmp_path_factory.mktemp("home")
    day = latest_drop_date(SAMPLE)
    env = {"REBALANCE_HOME": str(home), "REBALANCE_BOOK": str(SAMPLE)}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        from rebalance_pipeline.definitions import defs

        result = defs.resolve_job_def("daily_rebalance").execute_in_process(
            partition_key=day.isoformat()
        )
        assert result.success
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return home, day
