"""The daily schedule: on the morning after business day D, materialize D.

The custodians' files of D arrive overnight, so the run at ``schedule_time`` on calendar
day T materializes partition D = T - 1 when D was an XNYS session. When T - 1 was a
weekend day or an exchange holiday there is nothing to materialize: the tick is skipped
with a reason naming the day (so Sundays, Mondays and the day after a holiday skip, and
Friday's partition runs on Saturday morning). A tick also skips when the partition
already has a queued, running or successful run (usually started earlier by the drop
sensor), so the schedule is the backstop rather than a second run.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from rebalance_pipeline.calendar import exchange_calendar, is_business_day
from rebalance_pipeline.export.release_tag import launch_tags
from rebalance_pipeline.operations.config import OperationsConfig
from rebalance_pipeline.partitions import JOB_NAME, PARTITION_TAG, business_day_partitions
from rebalance_pipeline.resources import BookSource

SCHEDULE_NAME = "daily_rebalance_schedule"
LIVE_OR_DONE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.SUCCESS,
]


def holiday_name(day: dt.date) -> str:
    """The exchange's name for a weekday holiday (ad hoc closures have none)."""
    holidays = exchange_calendar().regular_holidays
    names = holidays.holidays(day.isoformat(), day.isoformat(), return_name=True)
    return str(names.iloc[0]) if len(names) else "unscheduled exchange closure"


def closure_reason(day: dt.date) -> str | None:
    """Why ``day`` had no XNYS session, or None when it had one."""
    if day.weekday() >= 5:
        return f"{day.isoformat()} was a {day:%A} (weekend)"
    if is_business_day(day):
        return None
    return f"{day.isoformat()} was an XNYS holiday ({holiday_name(day)})"


def partition_for_morning(run_date: dt.date) -> dt.date:
    """The business day whose files a run on the morning of ``run_date`` processes."""
    return run_date - dt.timedelta(days=1)


def schedule_decision(
    when: dt.datetime, config: OperationsConfig, instance: dg.DagsterInstance, book: BookSource
) -> dg.RunRequest | dg.SkipReason:
    """The tick at ``when``: a run of the previous day's partition, or why there is none."""
    run_date = when.astimezone(config.zone).date()
    day = partition_for_morning(run_date)
    try:
        closed = closure_reason(day)
    except ValueError as error:  # outside the exchange calendar's range
        return dg.SkipReason(f"no run on {run_date.isoformat()}: {error}")
    if closed:
        return dg.SkipReason(f"no run on {run_date.isoformat()}: {closed}, not a business day")
    key = day.isoformat()
    opens = business_day_partitions().end_time_for_partition_key(key)
    if when < opens:  # a schedule time zone far east of UTC
        return dg.SkipReason(f"partition {key} does not exist before {opens.isoformat()}")
    earlier = instance.get_run_records(
        dg.RunsFilter(job_name=JOB_NAME, tags={PARTITION_TAG: key}, statuses=LIVE_OR_DONE),
        limit=1,
    )
    if earlier:
        run = earlier[0].dagster_run
        return dg.SkipReason(
            f"partition {key} already has run {run.run_id} ({run.status.value}); "
            "not starting another"
        )
    tags = launch_tags("auto", day, book.path(), book.home())
    return dg.RunRequest(run_key=key, partition_key=key, tags=tags)


def daily_schedule(config: OperationsConfig) -> dg.ScheduleDefinition:
    """The business-day schedule at the configured local time (see the module docstring)."""

    @dg.schedule(
        name=SCHEDULE_NAME,
        job_name=JOB_NAME,
        cron_schedule=config.cron(),
        execution_timezone=config.timezone,
        description=(
            f"At {config.schedule_time:%H:%M} {config.timezone} on the morning after each "
            "XNYS session D, materialize D; weekends and holidays skip with the reason."
        ),
    )
    def daily_rebalance_schedule(context: dg.ScheduleEvaluationContext):
        when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        aware = when if when.tzinfo else when.replace(tzinfo=config.zone)
        # the book of $REBALANCE_BOOK, as the schedule's time came from (no resource: a
        # schedule with one has Dagster build an instance per tick)
        return schedule_decision(aware, config, context.instance, BookSource())

    return daily_rebalance_schedule
