"""Run dates through the Dagster definitions from the command line.

Runs go to a persistent Dagster instance under ``$REBALANCE_HOME/dagster`` (the one
``dagster dev`` shows when ``DAGSTER_HOME`` points there) with the multiprocess executor,
so the optimization shards of a date run in parallel (each step forked from a preloaded
forkserver), or in the calling process when the accounts make a single shard; ``celery``
sends the steps to dagster-celery workers (``$REBALANCE_CELERY_CONFIG``); all with the
same outputs (``executor``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import polars as pl
import yaml

from rebalance_pipeline import storage
from rebalance_pipeline.executor import MULTIPROCESS_CONFIG, ExecutorChoice, resolve
from rebalance_pipeline.export.release_tag import launch_tags
from rebalance_pipeline.partitions import JOB_NAME, PARTITION_TAG
from rebalance_pipeline.reporting.cells import amount_cell, dollars, price_cell, quantity_cell
from rebalance_pipeline.run_progress import REQUEST_TAG, StepDone, StepWatcher

if TYPE_CHECKING:
    from rebalance_pipeline.policy import Policy

CELERY_CONFIG_ENV = "REBALANCE_CELERY_CONFIG"


def daily_job() -> dg.JobDefinition:
    """The daily job, reconstructable in every step process."""
    from rebalance_pipeline.definitions import defs

    return defs.resolve_job_def(JOB_NAME)


def dagster_home() -> Path:
    path = Path(os.environ.get("DAGSTER_HOME") or storage.home() / "dagster")
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        # atomic: a run started at the same moment never reads half of it
        storage.atomic_write_bytes(config, instance_config(path).encode())
    return path


def instance_config(path: Path) -> str:
    """The ``dagster.yaml`` of a new instance at ``path``."""
    settings = {
        "telemetry": {"enabled": False},
        "freshness": {"enabled": True},
        # step processes print warnings and up (no DEBUG engine lines on the terminal)
        "python_logs": {"python_log_level": "WARNING"},
        "storage": {
            "custom": {
                "module": "rebalance_pipeline.instance_storage",
                "class": "SqliteStorage",
                "config": {"base_dir": str(path.resolve())},
            }
        },
    }
    return yaml.safe_dump(settings, sort_keys=False)


@dataclasses.dataclass(frozen=True)
class DateOutcome:
    day: dt.date
    success: bool
    run_id: str
    home: Path
    trade_folder: Path | None  # where the run wrote its batch (a release or a replay)

    def report(self) -> str:
        state = "ok" if self.success else "FAILED"
        trades = shown_path(self.trade_folder) if self.trade_folder else "none written"
        lines = [
            f"{self.day.isoformat()}: {state} (dagster run {self.run_id})",
            f"  trade files:  {trades}",
            f"  tables:       {shown_path(storage.warehouse(self.home))}/<table>/"
            f"trade_date={self.day}/",
            f"  catalog:      {shown_path(storage.catalog_path(self.home))}",
        ]
        return "\n".join(lines)


def shown_path(path: Path) -> str:
    """``path`` as a person at the shell would type it: relative to the working folder
    when it lies inside, absolute otherwise."""
    absolute, here = path.absolute(), Path.cwd()
    return str(absolute.relative_to(here)) if absolute.is_relative_to(here) else str(path)


def materialize_date(
    day: dt.date,
    book: Path,
    release_mode: str = "auto",
    operator: str = "",
    requested_at: str = "",
    log_level: str = "WARNING",
    executor: ExecutorChoice = ExecutorChoice.AUTO,
    on_step: Callable[[StepDone], None] | None = None,
) -> DateOutcome:
    """Materialize every asset of ``day`` through Dagster and rebuild the catalog.

    ``release_mode`` (auto | release | replay) and the operator's name and time configure
    the ``release`` resource (resources.ReleaseMode). Every event is in the Dagster
    instance (``dagster dev`` shows the run); the console gets ``log_level`` and up.
    ``executor`` says where the steps run (``execution_config``); ``on_step`` is called
    as each step ends (``run_progress.StepWatcher``).

    The date's policy is read first: a bad policy file is a ``PolicyError`` before any
    run starts, and so is a home holding another book's tables (``storage.claim_home``)."""
    from rebalance_pipeline.policy import book_policy

    policy = book_policy(book, day)
    storage.claim_home(book)
    os.environ[storage.BOOK_ENV] = str(book.resolve())
    os.environ.setdefault(storage.HOME_ENV, str(storage.home()))
    home = dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    logging.getLogger("dagster").setLevel(log_level)  # the executor's own engine events
    request = uuid.uuid4().hex
    with dg.DagsterInstance.get() as instance, _watching(instance, request, on_step):
        result = dg.execute_job(
            dg.reconstructable(daily_job),
            instance=instance,
            tags={
                PARTITION_TAG: day.isoformat(),
                REQUEST_TAG: request,
                **launch_tags(release_mode, day, book, storage.home()),
            },
            run_config={
                "execution": execution_config(executor, expected_shards(book, day, policy)),
                "loggers": {"console": {"config": {"log_level": log_level}}},
                "resources": {
                    "release": {
                        "config": {
                            "mode": release_mode,
                            "operator": operator,
                            "requested_at": requested_at,
                        }
                    }
                },
            },
        )
        folder = written_trade_folder(day) if result.success else None
        outcome = DateOutcome(day, result.success, result.run_id, storage.home(), folder)
    storage.build_catalog()
    return outcome


@contextlib.contextmanager
def _watching(
    instance: dg.DagsterInstance, request: str, on_step: Callable[[StepDone], None] | None
) -> Iterator[None]:
    """Report the steps of the run tagged ``request`` while the block runs."""
    if on_step is None:
        yield
        return
    with dg.DagsterInstance.from_ref(instance.get_ref()) as own:  # one per thread
        watcher = StepWatcher(own, request, on_step)
        watcher.start()
        try:
            yield
        finally:
            watcher.stop()


def written_trade_folder(day: dt.date) -> Path | None:
    """The folder of the batch the date's last run wrote (its manifest's folder)."""
    from rebalance_pipeline.export.trade_files import MANIFEST

    try:
        files = storage.read_partition("trade_files", day)["file"]
    except FileNotFoundError:
        return None
    manifests = [name for name in files.to_list() if name.endswith(MANIFEST)]
    return (storage.home() / manifests[0]).parent if manifests else None


def not_a_book(book: Path) -> str | None:
    """Why ``book`` is no book, in one line (no firm folder, or a custodians file that
    cannot be used; a book without drops/ is dates whose files are all missing); None
    when it is one."""
    from rebalance_pipeline.ingest.custodians import CustodiansError, book_custodians

    if not (book / "firm").is_dir():
        return f"no book at {book}: a book folder has firm/ and drops/"
    try:
        book_custodians(book)
    except CustodiansError as error:
        return str(error)
    return None


def expected_shards(book: Path, day: dt.date, policy: Policy) -> int | None:
    """How many optimization shards the book's accounts make on this machine, at most
    (suspended accounts are not solved); None if the firm's account file does not read."""
    from rebalance_pipeline.ingest.firm import FirmFileError, firm_accounts
    from rebalance_pipeline.optimization.shards import available_workers, shard_count

    try:
        accounts = firm_accounts(book, day)
    except FirmFileError:
        return None
    return shard_count(accounts, policy, available_workers())


def execution_config(executor: ExecutorChoice, shards: int | None = None) -> dict:
    """The run config of the job's executor, ``auto`` resolved with the book's
    ``shards``. The multiprocess executor forks its steps from a preloaded forkserver.
    The celery executor's broker and backend are those the workers were started with:
    the ``execution`` block of the YAML file named by ``$REBALANCE_CELERY_CONFIG`` (the
    file given to ``dagster-celery worker start -y``); without it, dagster-celery's
    defaults."""
    choice = resolve(executor, shards)
    settings = MULTIPROCESS_CONFIG if choice is ExecutorChoice.MULTIPROCESS else {}
    if choice is ExecutorChoice.CELERY and os.environ.get(CELERY_CONFIG_ENV):
        import yaml

        worker_config = yaml.safe_load(Path(os.environ[CELERY_CONFIG_ENV]).read_text())
        settings = worker_config["execution"]["config"]
    return {"config": {choice.value: settings}}


def resolve_account(account_id: str, day: dt.date) -> str:
    """Re-solve one account from its stored problem and compare with the stored result."""
    from rebalance_pipeline.optimization.problem import problems_from_frame
    from rebalance_pipeline.optimization.shards import solve_one
    from rebalance_pipeline.policy import book_policy

    stored = storage.read_partition("optimization_problems", day)
    rows = stored.filter(pl.col("account_id") == account_id)
    if rows.is_empty():
        raise SystemExit(f"{account_id} has no stored problem on {day} (suspended or unknown)")
    policy = book_policy(storage.book_root(), day)
    (problem,) = problems_from_frame(rows)
    household = problems_from_frame(stored.filter(pl.col("household_id") == problem.household_id))
    result, trades = solve_one(problem, policy, household=household)
    before = storage.read_partition("optimization_results", day).filter(
        pl.col("account_id") == account_id
    )
    same = result.drop("solve_seconds").equals(before.drop("solve_seconds"))
    verdict = "reproduces" if same else "DIFFERS FROM"
    return "\n".join(
        [
            f"{account_id} on {day}: {verdict} the stored result",
            *_result_lines(result.drop("solve_seconds").row(0, named=True)),
            f"trades: {trades.height}",
            *_trade_lines(trades),
        ]
    )


def _result_lines(result: dict) -> list[str]:
    """Each result column by name: money as screens show it, other numbers to 6 digits."""
    return [f"  {name:<28} {_value_text(name, value)}" for name, value in result.items()]


def _value_text(name: str, value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        money = name.endswith("_usd") or any(w in name for w in ("cash", "value", "gain"))
        return dollars(value) if money else f"{value:.6g}"
    return str(value)


def _trade_lines(trades: pl.DataFrame) -> list[str]:
    """The trades as the trade files write their quantity, price and amount."""
    ordered = trades.sort("side", "security_id", "lot_id", nulls_last=True)
    return [
        f"  {row['side']:<4} {row['security_id']:<12} {quantity_cell(row['quantity']):>12}"
        f" @ {price_cell(row['price']):>10} = {amount_cell(row['quantity'], row['price']):>12}"
        f"  {row['lot_id'] or ''}"
        for row in ordered.iter_rows(named=True)
    ]
