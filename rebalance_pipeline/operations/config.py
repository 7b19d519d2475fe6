"""When the daily run starts and when the desk needs its results: the firm's
``firm/operations.yaml`` with defaults.

The schedule's cron is fixed when the code location loads, so this file is read then
(from the book of ``REBALANCE_BOOK``); a missing file means the defaults below.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OPERATIONS_FILE = Path("firm") / "operations.yaml"


class OperationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field("America/New_York", description="time zone of the times below")
    schedule_time: dt.time = Field(
        dt.time(7, 0), description="daily run on the morning after business day D, for D"
    )
    drop_cutoff: dt.time = Field(
        dt.time(6, 0),
        description="on the day after D, the drop sensor starts D's run even if files are missing",
    )
    sensor_lookback_business_days: int = Field(
        3, ge=1, description="business days (up to today) whose drop folders the sensor watches"
    )
    sensor_interval_seconds: int = Field(60, ge=10)
    desk_deadline: dt.time = Field(
        dt.time(9, 0),
        description="on the day after D, when the desk needs D's trade files and routing "
        "decisions: their freshness deadline in the Dagster UI",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {name!r}") from error
        return name

    @model_validator(mode="after")
    def _deadline_after_the_run(self) -> OperationsConfig:
        """A deadline before the scheduled run would show every morning as late."""
        if self.desk_deadline <= self.schedule_time:
            raise ValueError(
                f"desk_deadline {self.desk_deadline} is not after schedule_time "
                f"{self.schedule_time}"
            )
        return self

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def cron(self) -> str:
        """Every calendar day at ``schedule_time``: the schedule itself skips non-session days
        with a reason, so a holiday shows in the tick history instead of silently missing."""
        return f"{self.schedule_time.minute} {self.schedule_time.hour} * * *"

    def cutoff(self, day: dt.date) -> dt.datetime:
        """When the sensor stops waiting for the files of business day ``day``."""
        return dt.datetime.combine(day + dt.timedelta(days=1), self.drop_cutoff, self.zone)


def load_operations_config(book: Path) -> OperationsConfig:
    """The book's ``firm/operations.yaml``; the defaults when there is none."""
    path = book / OPERATIONS_FILE
    if not path.is_file():
        return OperationsConfig()
    try:
        return OperationsConfig.model_validate(yaml.safe_load(path.read_text()) or {})
    except (ValueError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: {error}") from error
