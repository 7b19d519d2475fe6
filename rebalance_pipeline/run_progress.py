"""Progress of a run as it happens: each step as it ends, with how long it took, read off
the Dagster instance's event log (the steps may run in other processes or machines, and
they all write there). Backfill progress: the dates done and an estimate of what is left.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Sequence

import dagster as dg

STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}
REQUEST_TAG = "rebalance/request"  # names the run a watcher follows before its id is known
POLL_SECONDS = 0.5


@dataclasses.dataclass(frozen=True)
class StepDone:
    step: str
    seconds: float
    success: bool

    def line(self) -> str:
        state = "done" if self.success else "FAILED"
        return f"  {self.step:<36} {state} in {self.seconds:5.1f} s"


class StepWatcher(threading.Thread):
    """Calls ``on_step`` once per step of the run tagged ``REQUEST_TAG=request`` as the
    step ends; ``stop`` reports what is left and waits for the thread."""

    def __init__(
        self, instance: dg.DagsterInstance, request: str, on_step: Callable[[StepDone], None]
    ):
        super().__init__(daemon=True)
        self._instance, self._request, self._on_step = instance, request, on_step
        self._stopping = threading.Event()
        self._run_id: str | None = None
        self._cursor: str | None = None
        self._step_starts: dict[str, float] = {}

    def run(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            self._report_new_events()
        self._report_new_events()

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def _report_new_events(self) -> None:
        if self._run_id is None:
            runs = self._instance.get_run_records(
                dg.RunsFilter(tags={REQUEST_TAG: self._request}), limit=1
            )
            if not runs:
                return
            self._run_id = runs[0].dagster_run.run_id
        found = self._instance.get_records_for_run(
            self._run_id, cursor=self._cursor, of_type=STEP_EVENTS
        )
        self._cursor = found.cursor
        for record in found.records:
            self._report(record.event_log_entry)

    def _report(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None or event.step_key is None:
            return
        if event.event_type is dg.DagsterEventType.STEP_START:
            self._step_starts[event.step_key] = entry.timestamp
            return
        seconds = entry.timestamp - self._step_starts.get(event.step_key, entry.timestamp)
        success = event.event_type is dg.DagsterEventType.STEP_SUCCESS
        self._on_step(StepDone(event.step_key, seconds, success))


def date_progress(done: Sequence[float], total: int) -> str:
    """``k/n dates, about H:MM:SS left``: the dates left at the mean time of those done
    (``done``: each finished date's seconds)."""
    left = total - len(done)
    mean = sum(done) / len(done) if done else 0.0
    eta = dt.timedelta(seconds=round(mean * left))
    return f"{len(done)}/{total} dates, about {eta} left"
