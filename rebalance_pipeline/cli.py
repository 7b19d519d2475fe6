"""The ``rebalance`` command: generate books, run dates through Dagster, inspect results.

Heavy libraries are imported inside the commands so ``rebalance --help`` stays quick.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from rebalance_pipeline.executor import ExecutorChoice
from rebalance_pipeline.storage import DEFAULT_BOOK

app = typer.Typer(
    help="Daily automated rebalancing of a book of accounts, with every decision explained.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
scenario_app = typer.Typer(help="Acceptance scenarios in the neutral YAML format.")
app.add_typer(scenario_app, name="scenario")

DateOption = Annotated[
    dt.datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Business date YYYY-MM-DD.")
]
BookOption = Annotated[
    Path, typer.Option("--book", help="Book folder with firm/ and drops/.", file_okay=False)
]


def _option_error(error: dict, given: dict) -> str:
    """A GeneratorConfig validation error as the ``generate`` option that caused it."""
    option = "faults" if error["loc"][0] == "fault_rate" else str(error["loc"][0])
    return f"--{option} {given[option]}: {error['msg']}"


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the book into.")] = Path("var/book"),
    accounts: Annotated[int, typer.Option(help="Number of accounts.")] = 300,
    households: Annotated[int, typer.Option(help="Number of households.")] = 100,
    days: Annotated[int, typer.Option(help="Business days of custodian drops.")] = 15,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 7,
    faults: Annotated[float, typer.Option(help="Fault rate per file and day.")] = 0.05,
    sample: Annotated[bool, typer.Option(help="Write the shipped sample book.")] = False,
) -> None:
    """Write a deterministic synthetic book of custodian drops with injected faults."""
    import pydantic
    from rich.progress import Progress

    from rebalance_pipeline.generator import GeneratorConfig, generate_book, sample_config

    options = {"accounts": accounts, "households": households, "days": days, "seed": seed}
    try:
        config = sample_config() if sample else GeneratorConfig(**options, fault_rate=faults)
    except pydantic.ValidationError as error:
        given = options | {"faults": faults}
        _fail("; ".join(_option_error(e, given) for e in error.errors()))
    with Progress(transient=True) as progress:
        task = progress.add_task("generating", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        book = generate_book(config, out, progress=advance)
    typer.echo(f"wrote {book.summary()} to {out}")


@app.command()
def run(
    date: Annotated[
        dt.datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="Business date YYYY-MM-DD."),
    ] = None,
    book: BookOption = Path(DEFAULT_BOOK),
    latest: Annotated[bool, typer.Option(help="Run the book's latest business date.")] = False,
    release: Annotated[
        bool,
        typer.Option(
            "--release",
            help="Release the date's trades even if it is not the current date (recorded "
            "with $USER and the time); without it only the current date releases.",
        ),
    ] = False,
    executor: Annotated[
        ExecutorChoice,
        typer.Option(
            help="Where the steps run, with the same outputs: in_process, multiprocess "
            "(a process per step), celery (dagster-celery workers; broker from "
            "$REBALANCE_CELERY_CONFIG), or auto: in_process when the book's accounts make "
            "one optimization shard, else multiprocess.",
        ),
    ] = ExecutorChoice.AUTO,
) -> None:
    """Materialize one business date through every stage with Dagster."""
    import getpass

    from rich.console import Console

    from rebalance_pipeline import runner
    from rebalance_pipeline.calendar import not_a_business_day
    from rebalance_pipeline.partitions import before_first_partition
    from rebalance_pipeline.storage import another_book_in_home, latest_drop_date

    if (date is None) == (not latest):
        _fail("give --date YYYY-MM-DD or --latest" + (", not both" if latest else ""))
    if problem := runner.not_a_book(book):
        _fail(problem)
    try:
        day = latest_drop_date(book) if date is None else date.date()
    except FileNotFoundError as error:  # --latest of a book without drop folders
        _fail(str(error))
    if problem := not_a_business_day(day) or before_first_partition(day, book):
        _fail(problem)
    if problem := another_book_in_home(book):
        _fail(problem)
    explicit = {
        "release_mode": "release",
        "operator": getpass.getuser(),
        "requested_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    console = Console(stderr=True, highlight=False, markup=False)
    with console.status(f"materializing {day} through every stage"):
        outcome = runner.materialize_date(
            day,
            book,
            executor=executor,
            on_step=lambda done: console.print(done.line()),
            **(explicit if release else {}),
        )
    typer.echo(outcome.report())
    if not outcome.success:
        raise typer.Exit(code=1)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000,
    docs_port: Annotated[int, typer.Option(help="Port of the data docs.")] = 3001,
    workspace: Annotated[
        Path, typer.Option(help="Dagster workspace file.", exists=True, dir_okay=False)
    ] = Path("workspace.yaml"),
) -> None:
    """The Dagster UI on the instance runs write to ($REBALANCE_HOME/dagster), with the data
    docs it links served beside it, both on 127.0.0.1; Ctrl-C stops both."""
    from rebalance_pipeline import ui as console

    raise typer.Exit(code=console.serve(workspace, port, docs_port))


@app.command()
def backfill(
    start: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First date.")],
    end: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Last date.")],
    book: BookOption = Path(DEFAULT_BOOK),
    reverse: Annotated[bool, typer.Option(help="Run the dates newest first.")] = False,
) -> None:
    """Re-run every business date from START to END (any order gives the same outputs).

    A backfill always replays: its trade files go to replay-<batch>/ with a diff against
    what the date released, never over the released files."""
    import time

    from rebalance_pipeline import runner
    from rebalance_pipeline.calendar import business_days
    from rebalance_pipeline.partitions import before_first_partition
    from rebalance_pipeline.run_progress import date_progress
    from rebalance_pipeline.storage import another_book_in_home

    if start > end:
        _fail(f"--start {start:%Y-%m-%d} is after --end {end:%Y-%m-%d}: no dates to run")
    if problem := (
        runner.not_a_book(book)
        or before_first_partition(start.date(), book)
        or another_book_in_home(book)
    ):
        _fail(problem)
    days = business_days(start.date(), end.date())
    failed, seconds = [], []
    for day in list(reversed(days)) if reverse else days:
        started = time.monotonic()
        outcome = runner.materialize_date(day, book, release_mode="replay")
        seconds.append(time.monotonic() - started)
        typer.echo(outcome.report())
        typer.echo(f"  took {seconds[-1]:.0f} s; {date_progress(seconds, len(days))}", err=True)
        if not outcome.success:
            failed.append(day)
    if failed:
        _fail(f"{len(failed)} dates failed: {', '.join(d.isoformat() for d in failed)}")


@app.command()
def status(
    date: DateOption,
    accounts: Annotated[
        bool, typer.Option("--accounts", help="List every suspended account with its reasons.")
    ] = False,
) -> None:
    """Data-quality findings of a date: one line per cause and file with the accounts it
    touches, the files not trusted and why, how many accounts are suspended."""
    from rebalance_pipeline import storage
    from rebalance_pipeline.validation import status_report

    day = date.date()
    report = status_report(
        storage.read_partition("data_quality_issues", day),
        storage.read_partition("account_status", day),
        list_accounts=accounts,
    )
    typer.echo(report, nl=False)


@app.command()
def summary(date: DateOption) -> None:
    """One screen per date: accounts per route and review level, trades, turnover, taxes."""
    import polars as pl

    from rebalance_pipeline import storage
    from rebalance_pipeline.continuity.ledger import released_batch_ids
    from rebalance_pipeline.reporting.summary import summary_report
    from rebalance_pipeline.review.state import ReviewState

    day = date.date()
    review = ReviewState(
        storage.read_partition("review_queue", day), storage.read_partition("review_outcomes", day)
    )
    released = pl.concat([storage.read_partition("released_trades", day), review.released()])
    typer.echo(
        summary_report(
            storage.read_partition("routing_decisions", day),
            released,
            storage.read_partition("optimization_results", day),
            was_released=bool(released_batch_ids(storage.home(), day)),
            review_line=review.line(),
        )
    )


@app.command()
def report(date: DateOption) -> None:
    """Build a date's daily report page again from its stored tables (review decisions
    recorded since the run included) and print its path."""
    from rebalance_pipeline import storage
    from rebalance_pipeline.daily_report.page import write_daily_report

    try:
        path, _ = write_daily_report(date.date(), storage.home())
    except FileNotFoundError as error:
        _fail(str(error))
        return
    typer.echo(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)


@app.command()
def solve(
    account: Annotated[str, typer.Option(help="Account id.")],
    date: DateOption,
) -> None:
    """Re-solve one account alone from its stored inputs and compare with the stored result."""
    from rebalance_pipeline.runner import resolve_account

    typer.echo(resolve_account(account, date.date()))


@app.command()
def catalog() -> None:
    """Rebuild the DuckDB catalog of views over every materialized table and date."""
    from rebalance_pipeline import storage

    views = storage.build_catalog()
    typer.echo(f"{storage.catalog_path()}: {len(views)} views")


@scenario_app.command("run")
def scenario_run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", exists=True)],
    out: Annotated[Path | None, typer.Option(help="Result JSON (default: stdout).")] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Compare the result with the scenario's expect: block; exit 1 listing "
            "every expectation not met.",
        ),
    ] = False,
) -> None:
    """Run one acceptance scenario through the daily stages and write the result JSON."""
    from rebalance_pipeline.scenario import (
        ScenarioError,
        expectation_mismatches,
        load_scenario,
        run_scenario,
    )

    try:
        result = run_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
        return
    text = json.dumps(result, indent=2, sort_keys=True)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text + "\n")
        typer.echo(f"wrote {out}")
    if check:
        name = result["scenario"]
        mismatches = expectation_mismatches(load_scenario(scenario), result)
        if mismatches:
            _fail("\n".join([f"{name}: {len(mismatches)} expectations not met", *mismatches]))
        typer.echo(f"{name}: every expectation met", err=True)


@app.command()
def simulate(
    config: Annotated[
        Path, typer.Option("--config", help="Simulation YAML.", exists=True, dir_okay=False)
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the records.")] = Path(
        "var/simulation"
    ),
    sweep: Annotated[
        str | None,
        typer.Option(
            help="GROUP=DAYS: instead of the variants, find the threshold curve of the "
            "account group (cost/benefit with decay) that trades DAYS a year per account.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Variants simulated at a time (default: the cores available)."),
    ] = None,
) -> None:
    """Run every policy variant of a simulation config through the daily stages, day after
    day; write account_days.parquet and fills.parquet per variant under OUT, then the
    metrics (metrics.csv, metrics.md), the plots and report.html."""
    import pydantic

    from rebalance_pipeline.optimization.shards import available_workers
    from rebalance_pipeline.simulation.config import load_config
    from rebalance_pipeline.simulation.run import report_simulation, run_simulation, sweep_group

    try:
        settings = load_config(config)
    except pydantic.ValidationError as error:
        _fail(f"simulation config {config}: {error}")
        return
    if sweep is not None:
        group, _, days = sweep.partition("=")
        try:
            target = float(days)
        except ValueError:
            _fail(f"--sweep {sweep}: give GROUP=DAYS, e.g. small=8")
            return
        found = sweep_group(settings, group, target)
        curve = found.threshold
        typer.echo(
            f"{group}: start {curve.start_bps:.1f} bps, floor {curve.floor_bps:.1f} bps, "
            f"time constant {curve.time_constant_days:g} days -> "
            f"{found.trading_days:.1f} trading days a year (target {target:g}"
            f"{'' if found.reached else ', not reached'}), tracking error "
            f"{found.tracking_error_pct:.2f}% ({found.runs} runs)"
        )
        return
    written = run_simulation(
        settings,
        out,
        done=lambda v: typer.echo(f"simulated {v.name}"),
        workers=workers or available_workers(),
    )
    typer.echo(f"wrote {len(written)} variants under {out}")
    for path in report_simulation(settings, out):
        typer.echo(f"wrote {path}")


def _log_warnings_only() -> None:
    """Library log records reach the terminal from WARNING up. Some libraries log INFO on
    loggers of their own (Great Expectations); without a handler on the root logger, the
    first module-level ``logging.info`` anywhere would install Python's default one,
    which prints them."""
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def main() -> None:
    """Entry point: expected failures (a date not materialized, bad input) are one clear
    line on stderr and exit code 1, never a traceback."""
    _log_warnings_only()
    try:
        app()
    except (FileNotFoundError, ValueError, KeyError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command()
def explain(
    account: Annotated[str, typer.Option(help="Account id.")],
    date: DateOption,
    as_json: JsonOption = False,
) -> None:
    """Why an account traded or not on a date: the decision chain from stored artifacts."""
    from rebalance_pipeline.audit import explain as explain_account

    explanation = explain_account(account, date.date())
    if as_json:
        sys.stdout.write(json.dumps(explanation.to_dict(), indent=2, sort_keys=True) + "\n")
    else:
        typer.echo(explanation.to_text(), nl=False)


@app.command()
def diff(
    date: DateOption,
    against: Annotated[
        str | None,
        typer.Option(help="Earlier batch id of the date (default: the batch before the current)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Trades and decisions of a date's current batch compared with an earlier batch."""
    from rebalance_pipeline.audit import diff as diff_batches

    changes = diff_batches(date.date(), against)
    if as_json:
        sys.stdout.write(json.dumps(changes.to_dict(), indent=2, sort_keys=True) + "\n")
    else:
        typer.echo(changes.to_text(), nl=False)


review_app = typer.Typer(
    help="A date's review queue: shown, decided from a file, or in the browser (serve)."
)
app.add_typer(review_app, name="review")


@review_app.callback(invoke_without_command=True)
def review(
    ctx: typer.Context,
    date: Annotated[
        dt.datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="Business date YYYY-MM-DD."),
    ] = None,
    book: BookOption = Path(DEFAULT_BOOK),
    decisions: Annotated[
        Path | None,
        typer.Option(help="The queue file with decision columns filled in.", exists=True),
    ] = None,
    reviewer: Annotated[str | None, typer.Option(help="Who decided (signs every row).")] = None,
    at: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%dT%H:%M:%S"], help="Decision time, UTC (default: now)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the open queue to this CSV.")] = None,
) -> None:
    """Show a date's open review queue, or record decisions and release what they settle.

    Decisions are appended under the book's firm/review_decisions/YYYY-MM-DD/ (never
    edited) and approved or modified trades go out in a new review batch of the date.
    Once a later date has been run, the accounts it decided again are superseded: they
    leave the queue and decisions on them are refused (review the later date's queue).
    ``rebalance review serve`` does the same in the browser.
    """
    if ctx.invoked_subcommand is not None:
        return
    if date is None:
        _fail("give --date YYYY-MM-DD")
        return

    import polars as pl

    from rebalance_pipeline import storage
    from rebalance_pipeline.review.queue import (
        ReviewFileError,
        read_review_decisions,
        review_queue_csv,
        write_review_queue,
    )
    from rebalance_pipeline.review.records import DecisionRecordError, superseded_notes
    from rebalance_pipeline.review_screen.desk import ReviewDesk, still_queued_lines

    if problem := storage.another_book_in_home(book):
        _fail(problem)
    day = date.date()
    desk = ReviewDesk(book, storage.home(), day)
    if decisions is None:
        queue = desk.open_queue()
        if not queue.superseded.is_empty():
            notes = superseded_notes(queue.superseded, day)
            typer.echo("\n".join(["left out of the queue, superseded:", *notes]), err=True)
        if out is not None:
            write_review_queue(queue.trades, out)
            typer.echo(f"{queue.trades.height} trades awaiting review written to {out}")
            return
        typer.echo(review_queue_csv(queue.trades), nl=False)
        return
    if not reviewer:
        _fail("--decisions needs --reviewer NAME")
        return
    decided_at = (at or dt.datetime.now(dt.UTC).replace(tzinfo=None)).replace(tzinfo=dt.UTC)
    try:
        outcome = desk.record(read_review_decisions(decisions), reviewer, decided_at)
    except (ReviewFileError, DecisionRecordError) as exc:
        _fail(str(exc))
        return
    released = outcome.review_outcomes.filter(pl.col("decision") != "reject")
    typer.echo(f"recorded {reviewer}'s decisions for {day}; {released.height} trades settled")
    if queued := still_queued_lines(outcome):
        typer.echo("\n".join(["still in the queue:", *queued]), err=True)
    if outcome.manifest is not None:
        typer.echo(f"released batch {outcome.manifest.batch_id} in {outcome.manifest.folder}")


@review_app.command("serve")
def review_serve(
    date: DateOption,
    book: BookOption = Path(DEFAULT_BOOK),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="REBALANCE_REVIEW_TOKEN",
            help="Access token, required on every request; needed to listen on any "
            "address but the local one (open the printed address once, it sets a cookie).",
        ),
    ] = None,
) -> None:
    """Review a date's queue in the browser: decide per account or trade, then release."""
    from rebalance_pipeline import storage
    from rebalance_pipeline.review_screen.desk import ReviewDesk
    from rebalance_pipeline.review_screen.web import ServeError, serve

    try:
        serve(ReviewDesk(book, storage.home(), date.date()), host=host, port=port, token=token)
    except ServeError as exc:
        _fail(str(exc))
