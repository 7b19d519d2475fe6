"""The drop-folder sensor: start a date's run as soon as its custodian files are all in.

For each of the last few business days it lists the files the custodians owe (every
kind of every custodian of the book, named by its adapter). When all are present it
requests the date's run with ``run_key = "<date>:<SHA-256 of the files' SHA-256s>"``: an unchanged
folder gives the same key, which Dagster never launches twice, and a corrected re-drop
gives a new key and so a new run. After the cutoff (``drop_cutoff`` on the calendar day
after the date, in the configured time zone) a date with at least one file starts anyway;
validation then suspends the missing custodian's accounts (``missing_file``). A file that
arrives later changes the key and reruns the date. A date with no file at all is left to
the schedule. No cursor is needed: run keys dedupe.

Hashing is kept cheap: a file is re-read only when its size or mtime changed since the
last evaluation in this process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path

import dagster as dg

from rebalance_pipeline import storage
from rebalance_pipeline.calendar import previous_business_days
from rebalance_pipeline.export.release_tag import launch_tags
from rebalance_pipeline.ingest.custodians import CustodiansError, book_custodians
from rebalance_pipeline.operations.config import OperationsConfig, load_operations_config
from rebalance_pipeline.partitions import JOB_NAME, business_day_partitions
from rebalance_pipeline.resources import BookSource

SENSOR_NAME = "custodian_drop_sensor"
DIGEST_TAG = "rebalance/drop_sha256"
MISSING_TAG = "rebalance/missing_files"


class FileHasher:
    """SHA-256 of files, re-read only when a file's size or mtime changed."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[int, int, str]] = {}
        self.files_read = 0

    def sha256(self, path: Path) -> str:
        stat = path.stat()
        known = self._known.get(path)
        if known and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        self._known[path] = (stat.st_size, stat.st_mtime_ns, digest)
        self.files_read += 1
        return digest

    def keep_only(self, paths: set[Path]) -> None:
        """Forget files no longer watched, so the cache stays as small as the window."""
        self._known = {p: v for p, v in self._known.items() if p in paths}


@dataclasses.dataclass(frozen=True)
class DropFolder:
    """The files owed for one business day: present ones with their SHA-256, missing ones."""

    day: dt.date
    hashes: tuple[tuple[str, str], ...]
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing

    def digest(self) -> str:
        """One SHA-256 over each owed file's path and content hash (``-`` when missing)."""
        lines = [f"{path} {sha}" for path, sha in self.hashes]
        lines += [f"{path} -" for path in self.missing]
        return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()

    def run_key(self) -> str:
        return f"{self.day.isoformat()}:{self.digest()}"

    def run_request(self, tags: dict[str, str]) -> dg.RunRequest:
        """The run of the folder's date with ``tags`` and the folder's own."""
        tags = {**tags, DIGEST_TAG: self.digest()}
        if self.missing:
            tags[MISSING_TAG] = str(len(self.missing))
        return dg.RunRequest(run_key=self.run_key(), partition_key=self.day.isoformat(), tags=tags)


def owed_files(book: Path, day: dt.date) -> list[str]:
    """Paths, relative to the book, of every file the custodians owe for ``day`` (a file
    of several kinds once)."""
    return sorted({c.drop_path(k, day) for c in book_custodians(book) for k in c.adapter.kinds})


def read_drop_folder(book: Path, day: dt.date, hasher: FileHasher) -> DropFolder:
    present, missing = [], []
    for relative in owed_files(book, day):
        try:
            present.append((relative, hasher.sha256(book / relative)))
        except OSError:  # not there (yet), or vanished or unreadable while the server writes
            missing.append(relative)
    return DropFolder(day, tuple(present), tuple(missing))


def watched_days(now: dt.datetime, config: OperationsConfig) -> list[dt.date]:
    """The last ``sensor_lookback_business_days`` sessions whose partition exists at ``now``.

    Dagster creates a daily partition when its day ends (midnight UTC), and a run request
    for a partition that does not exist yet fails the whole tick.
    """
    partitions = business_day_partitions()
    count = config.sensor_lookback_business_days
    tomorrow = now.astimezone(config.zone).date() + dt.timedelta(days=1)
    closed = [
        day
        for day in previous_business_days(tomorrow, count + 1)
        if partitions.end_time_for_partition_key(day.isoformat()) <= now
    ]
    return closed[-count:]


def drop_run_requests(
    book: Path, now: dt.datetime, config: OperationsConfig, hasher: FileHasher
) -> dg.SensorResult | dg.SkipReason:
    """Run requests for the watched dates whose drops are complete or past the cutoff;
    none while the book's custodians file cannot be used (its error is the skip reason)."""
    try:
        book_custodians(book)
    except CustodiansError as error:
        return dg.SkipReason(str(error))
    requests, waiting = [], []
    days = watched_days(now, config)
    for day in days:
        folder = read_drop_folder(book, day, hasher)
        if folder.complete or (folder.hashes and now >= config.cutoff(day)):
            requests.append(folder.run_request(launch_tags("auto", day, book, storage.home())))
        else:
            owed = len(folder.hashes) + len(folder.missing)
            waiting.append(f"{day.isoformat()} ({len(folder.hashes)}/{owed} files)")
    hasher.keep_only({book / p for day in days for p in owed_files(book, day)})
    if requests:
        return dg.SensorResult(run_requests=requests)
    return dg.SkipReason(f"waiting for custodian files: {', '.join(waiting)}")


_HASHER = FileHasher()


def drop_sensor(config: OperationsConfig) -> dg.SensorDefinition:
    """The sensor over the book's ``drops/`` folder (see the module docstring)."""

    @dg.sensor(
        name=SENSOR_NAME,
        job_name=JOB_NAME,
        minimum_interval_seconds=config.sensor_interval_seconds,
        description="Starts a business day's run once every custodian file of the day is in, "
        "or at the cutoff; a corrected re-drop starts a new run.",
    )
    def custodian_drop_sensor(context: dg.SensorEvaluationContext, book: BookSource):
        root = book.path()
        now = dt.datetime.now(dt.UTC)
        return drop_run_requests(root, now, load_operations_config(root), _HASHER)

    return custodian_drop_sensor
