"""A code location with the operations' schedule and sensor around a stand-in daily job."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dagster as dg
import pytest

from rebalance_pipeline.operations import SCHEDULES, SENSORS
from rebalance_pipeline.partitions import business_day_partitions
from rebalance_pipeline.resources import BookSource


@dg.asset(partitions_def=business_day_partitions())
def stand_in() -> None:
    """Stands in for the real assets: schedule and sensor only need a partitioned job."""


def operations_defs(
    schedule: dg.ScheduleDefinition = SCHEDULES[0], book: BookSource | None = None
) -> dg.Definitions:
    return dg.Definitions(
        assets=[stand_in],
        jobs=[dg.define_asset_job("daily_rebalance", selection=[stand_in])],
        schedules=[schedule],
        sensors=SENSORS,
        resources={"book": book or BookSource()},
    )


@pytest.fixture
def make_defs() -> Callable[..., dg.Definitions]:
    return operations_defs


@pytest.fixture(scope="session")
def instance() -> Iterator[dg.DagsterInstance]:
    """One test instance (about 2 s to create); tests that add runs use their own dates."""
    with dg.instance_for_test() as test_instance:
        yield test_instance
