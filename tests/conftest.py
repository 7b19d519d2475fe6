"""Fixtures shared across the suite."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import dagster as dg

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


@dataclasses.dataclass(frozen=True)
class SampleRun:
    """The sample book's latest date materialized through the daily job."""

    home: Path
    day: dt.date
    check_evaluations: list[dg.AssetCheckEvaluation]
    report_metadata: dict[str, dg.MetadataValue]  # the daily_report asset's
    tags: dict[str, str]  # the run's tags once it finished


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> SampleRun:
    """The sample book's latest date materialized in-process through the daily job, once
    per test process."""
    import dagster as dg

    from rebalance_pipeline.storage import latest_drop_date

    home = tmp_path_factory.mktemp("home")
    day = latest_drop_date(SAMPLE)
    env = {"REBALANCE_HOME": str(home), "REBALANCE_BOOK": str(SAMPLE)}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        from rebalance_pipeline.definitions import defs

        with dg.DagsterInstance.ephemeral() as instance:
            result = defs.resolve_job_def("daily_rebalance").execute_in_process(
                partition_key=day.isoformat(), instance=instance
            )
            assert result.success
            tags = dict(instance.get_run_by_id(result.run_id).tags)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    (report,) = result.asset_materializations_for_node("daily_report")
    return SampleRun(home, day, result.get_asset_check_evaluations(), dict(report.metadata), tags)


@pytest.fixture(scope="session")
def materialized_sample(sample_run: SampleRun) -> tuple[Path, dt.date]:
    """(home folder, date) of the sample run."""
    return sample_run.home, sample_run.day
