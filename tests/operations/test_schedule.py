"""The business-day schedule: the morning after session D runs D; other mornings skip."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from rebalance_pipeline.operations import SCHEDULES
from rebalance_pipeline.operations.config import OperationsConfig, load_operations_config
from rebalance_pipeline.operations.schedules import SCHEDULE_NAME, daily_schedule

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


Evaluate = Callable[..., Any]


@pytest.fixture
def evaluate(instance: dg.DagsterInstance, make_defs: Callable[..., dg.Definitions]) -> Evaluate:
    """Evaluate a tick of the schedule at ``when`` against the test instance."""

    def tick(when: dt.datetime, schedule: dg.ScheduleDefinition = SCHEDULES[0]):
        defs = make_defs(schedule)
        context = dg.build_schedule_context(
            instance=instance,
            repository_def=defs.get_repository_def(),
            scheduled_execution_time=when,
        )
        return defs.resolve_schedule_def(SCHEDULE_NAME).evaluate_tick(context)

    return tick


def morning(day: str, hour: int = 7) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), NEW_YORK)


def test_the_definitions_load_with_schedule_and_sensor(
    make_defs: Callable[..., dg.Definitions],
) -> None:
    dg.Definitions.validate_loadable(make_defs())
    schedule = SCHEDULES[0]
    assert schedule.cron_schedule == "0 7 * * *"
    assert schedule.execution_timezone == "America/New_York"
    assert schedule.job_name == "daily_rebalance"


def test_a_normal_morning_runs_the_previous_business_day(evaluate: Evaluate) -> None:
    tick = evaluate(morning("2026-11-25"))  # Wednesday morning: Tuesday's files
    assert tick.skip_message is None
    [request] = tick.run_requests
    assert request.partition_key == "2026-11-24"
    assert request.run_key == "2026-11-24"


def test_the_day_after_thanksgiving_skips_naming_the_holiday(evaluate: Evaluate) -> None:
    tick = evaluate(morning("2026-11-27"))
    assert not tick.run_requests
    assert "2026-11-26 was an XNYS holiday (Thanksgiving)" in tick.skip_message


def test_saturday_runs_friday_and_monday_skips_sunday(evaluate: Evaluate) -> None:
    saturday = evaluate(morning("2026-11-28"))
    assert [r.partition_key for r in saturday.run_requests] == ["2026-11-27"]
    monday = evaluate(morning("2026-11-30"))
    assert not monday.run_requests
    assert "2026-11-29 was a Sunday (weekend)" in monday.skip_message


def test_the_tuesday_after_a_monday_holiday_skips(evaluate: Evaluate) -> None:
    tick = evaluate(morning("2026-01-20"))  # Monday 2026-01-19: MLK Day
    assert not tick.run_requests
    assert "Martin Luther King" in tick.skip_message


def test_an_unscheduled_closure_skips(evaluate: Evaluate) -> None:
    tick = evaluate(morning("2025-01-10"))  # 2025-01-09: national day of mourning
    assert not tick.run_requests
    assert "2025-01-09 was an XNYS holiday (unscheduled exchange closure)" in tick.skip_message


def test_the_run_date_is_the_local_date_of_the_tick(evaluate: Evaluate) -> None:
    # 03:30 UTC on Wednesday is still Tuesday evening in New York: Monday's partition
    tick = evaluate(dt.datetime(2026, 11, 25, 3, 30, tzinfo=dt.UTC))
    assert [r.partition_key for r in tick.run_requests] == ["2026-11-23"]


def test_a_partition_with_a_run_already_is_not_run_again(
    instance: dg.DagsterInstance, evaluate: Evaluate
) -> None:
    instance.add_run(
        dg.DagsterRun(
            job_name="daily_rebalance",
            run_id="sensor-started-run",
            status=dg.DagsterRunStatus.SUCCESS,
            tags={"dagster/partition": "2026-10-06"},
        )
    )
    tick = evaluate(morning("2026-10-07"))
    assert not tick.run_requests
    assert "already has run sensor-started-run (SUCCESS)" in tick.skip_message
    # a failed run does not block the schedule
    instance.add_run(
        dg.DagsterRun(
            job_name="daily_rebalance",
            run_id="failed-run",
            status=dg.DagsterRunStatus.FAILURE,
            tags={"dagster/partition": "2026-10-05"},
        )
    )
    assert [r.partition_key for r in evaluate(morning("2026-10-06")).run_requests] == ["2026-10-05"]


def test_time_and_zone_come_from_the_books_operations_file(
    tmp_path: Path, evaluate: Evaluate
) -> None:
    (tmp_path / "firm").mkdir()
    (tmp_path / "firm" / "operations.yaml").write_text(
        "timezone: Europe/London\nschedule_time: '06:15'\n"
    )
    config = load_operations_config(tmp_path)
    schedule = daily_schedule(config)
    assert schedule.cron_schedule == "15 6 * * *"
    assert schedule.execution_timezone == "Europe/London"
    london_morning = dt.datetime(2026, 11, 25, 6, 15, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    tick = evaluate(london_morning, schedule)
    assert [r.partition_key for r in tick.run_requests] == ["2026-11-24"]


def test_a_tick_before_the_partition_exists_skips(tmp_path: Path, evaluate: Evaluate) -> None:
    config = OperationsConfig(timezone="Asia/Tokyo", schedule_time=dt.time(7, 0))
    tokyo_morning = dt.datetime(2026, 11, 25, 7, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    tick = evaluate(tokyo_morning, daily_schedule(config))  # 22:00 UTC on 2026-11-24
    assert not tick.run_requests
    assert "partition 2026-11-24 does not exist before 2026-11-25T00:00:00+00:00" in (
        tick.skip_message
    )


def test_a_missing_operations_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_operations_config(tmp_path) == OperationsConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timezone: Mars/Olympus\n", "unknown time zone 'Mars/Olympus'"),
        ("schedule_time: '25:00'\n", "schedule_time"),
        ("sensor_lookback: 3\n", "sensor_lookback"),
    ],
)
def test_a_bad_operations_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "firm").mkdir()
    (tmp_path / "firm" / "operations.yaml").write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        load_operations_config(tmp_path)
    assert "operations.yaml" in str(error.value)


def test_the_run_is_tagged_release_for_the_latest_drop_and_replay_before_it(
    tmp_path: Path, evaluate: Evaluate, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rebalance_pipeline.export.release_tag import RELEASE_MODE_TAG

    (tmp_path / "drops" / "2026-11-17").mkdir(parents=True)  # the book's latest drop
    monkeypatch.setenv("REBALANCE_BOOK", str(tmp_path))
    monkeypatch.setenv("REBALANCE_HOME", str(tmp_path / "home"))

    def tag(when: dt.datetime) -> str:
        [request] = evaluate(when).run_requests
        return request.tags[RELEASE_MODE_TAG]

    assert tag(morning("2026-11-18")) == "release"  # 2026-11-17's run releases it
    assert tag(morning("2026-11-17")) == "replay"  # 2026-11-16 is behind the latest drop
