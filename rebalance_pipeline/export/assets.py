"""Export wiring: the date's trade files and manifest, released or replayed."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from rebalance_pipeline.export.run import DateTables, export_run
from rebalance_pipeline.export.trade_files import MANIFEST, Manifest
from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource, ReleaseMode
from rebalance_pipeline.review.state import ReviewState
from rebalance_pipeline.storage import file_sha256

EXPORT_INS = DateTables.table_names()
TRADE_FILES = pl.Schema(
    {
        "batch_id": pl.String,
        "file": pl.String,
        "custodian": pl.String,
        "rows": pl.Int64,
        "sha256": pl.String,
    }
)


def review_metadata(review_queue: pl.DataFrame, outcomes: pl.DataFrame) -> dict[str, object]:
    """The metadata of a date's ``review_outcomes``: accounts approved, rejected and
    awaiting review, and every settled decision with who decided and when."""
    review = ReviewState(review_queue, outcomes)
    approved, rejected, waiting = review.account_counts()
    return {
        "accounts_approved": approved,
        "accounts_rejected": rejected,
        "accounts_awaiting_review": waiting,
        "decisions": dg.MetadataValue.md(review.decisions_markdown()),
    }


def report_review_session(
    dagster_home: Path, as_of: dt.date, review_queue: pl.DataFrame, outcomes: pl.DataFrame
) -> None:
    """Record a review session held outside a run (``rebalance review``) as a
    materialization of the date's ``review_outcomes`` in the Dagster instance, so the UI
    shows the decisions; nothing when no instance lives there (no run used it)."""
    report_outside_run(
        dagster_home,
        dg.AssetMaterialization(
            asset_key="review_outcomes",
            partition=as_of.isoformat(),
            description="recorded by a review session",
            metadata=review_metadata(review_queue, outcomes),
        ),
    )


def report_outside_run(dagster_home: Path, materialization: dg.AssetMaterialization) -> None:
    """Record ``materialization`` in the instance at ``dagster_home`` as an event outside
    any run; nothing when no instance lives there (no run used it)."""
    if not (dagster_home / "dagster.yaml").exists():
        return
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.report_runless_asset_event(materialization)


def batch_files(manifest: Manifest, home: Path) -> pl.DataFrame:
    """The batch's files (paths relative to the home folder) and its manifest, so even a
    batch without trades is recorded with its id."""
    folder = manifest.folder.relative_to(home)
    entries = [(str(folder / f.name), f.custodian, f.rows, f.sha256) for f in manifest.files]
    manifest_file = manifest.folder / MANIFEST
    entries.append((str(folder / MANIFEST), None, manifest.total_rows, file_sha256(manifest_file)))
    columns = {name: TRADE_FILES[name] for name in ("file", "custodian", "rows", "sha256")}
    frame = pl.DataFrame(entries, schema=columns, orient="row")
    return frame.with_columns(pl.lit(manifest.batch_id).alias("batch_id")).select(
        TRADE_FILES.names()
    )


@dg.multi_asset(
    outs={
        "trade_files": dg.AssetOut(
            io_manager_key="warehouse",
            group_name="export",
            kinds={"csv"},
            description="One CSV per custodian of the released trades plus manifest.json, "
            "under $REBALANCE_HOME/trades/YYYY-MM-DD/ (a replay under replay-<batch>/ with "
            "diff.json); the stored table lists the files of the batch.",
        ),
        "review_outcomes": dg.AssetOut(
            io_manager_key="warehouse",
            group_name="export",
            description="Settled review decisions of the date (firm/review_decisions/): "
            "released quantity, decision, reviewer and time per trade.",
        ),
    },
    ins={name: dg.AssetIn(key=name) for name in EXPORT_INS},
    partitions_def=business_day_partitions(),
    can_subset=False,
)
def trade_files(
    context: dg.AssetExecutionContext,
    book: BookSource,
    release: ReleaseMode,
    **inputs: pl.DataFrame,
) -> Iterator[dg.Output]:
    from rebalance_pipeline.export.release import OperatorRecord, ReleaseOrderError
    from rebalance_pipeline.export.release_tag import release_mode_tag
    from rebalance_pipeline.storage import latest_drop_date

    as_of = partition_date(context.partition_key)
    policy = book.policy(as_of)
    try:
        outcome = export_run(
            DateTables.from_tables(inputs, policy, as_of),
            book_root=book.path(),
            home=book.home(),
            as_of=as_of,
            latest_drop_date=latest_drop_date(book.path()),
            policy_date=policy.effective_date,
            mode=release.mode,
            operator=OperatorRecord(release.operator, release.requested_at),
        )
    except ReleaseOrderError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    context.instance.add_run_tags(context.run.run_id, release_mode_tag(outcome.released))
    manifest = outcome.manifest
    files = batch_files(manifest, book.home())
    yield dg.Output(
        files,
        output_name="trade_files",
        metadata={
            "batch_id": manifest.batch_id,
            "batch_status": manifest.status,
            "release": outcome.released,
            "trade_rows": manifest.total_rows,
            "folder": dg.MetadataValue.path(str(manifest.folder)),
        },
    )
    yield dg.Output(
        outcome.review_outcomes,
        output_name="review_outcomes",
        metadata=review_metadata(inputs["review_queue"], outcome.review_outcomes),
    )
