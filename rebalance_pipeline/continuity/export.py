"""The export of a date's run, and of a review session, over the continuity rules.

``export_run`` is what the ``trade_files`` asset does: the date's auto-released trades
plus those the recorded review decisions release, written as a release or a replay.
``review_session`` is ``rebalance review --decisions``: record the session, then release
the newly settled accounts' trades as a review batch of the date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.continuity.cash_requests import requests_raised_by
from rebalance_pipeline.continuity.decisions import (
    read_decision_records,
    record_decisions,
    review_outcomes,
)
from rebalance_pipeline.continuity.ledger import released_batch_ids, released_dates
from rebalance_pipeline.continuity.provenance import provenance
from rebalance_pipeline.continuity.release import (
    Mode,
    OperatorRecord,
    export_date,
    released_trades_of,
    releases,
)
from rebalance_pipeline.export.trade_files import Manifest
from rebalance_pipeline.routing.review import ReviewContext


@dataclasses.dataclass(frozen=True)
class DateTables:
    """The stored tables of one date that the export reads."""

    released_trades: pl.DataFrame  # routing.route.RELEASED_TRADES
    review_queue: pl.DataFrame  # routing.route.REVIEW_QUEUE
    routing_decisions: pl.DataFrame
    accounts: pl.DataFrame
    securities: pl.DataFrame
    cash_requests: pl.DataFrame  # the requests still to raise (continuity applied)
    source_files: pl.DataFrame
    review_context: ReviewContext

    @classmethod
    def stored(cls, day: dt.date, home: Path) -> DateTables:
        """From the warehouse partitions of ``day``."""

        def read(table: str) -> pl.DataFrame:
            return storage.read_partition(table, day, home)

        return cls(
            released_trades=read("released_trades"),
            review_queue=read("review_queue"),
            routing_decisions=read("routing_decisions"),
            accounts=read("accounts"),
            securities=read("securities"),
            cash_requests=read("cash_requests"),
            source_files=read("source_files"),
            review_context=ReviewContext.from_tables(
                read("tax_lots"),
                read("optimization_results"),
                read("restricted_securities"),
                read("active_halts"),
            ),
        )


@dataclasses.dataclass(frozen=True)
class ExportOutcome:
    manifest: Manifest | None  # None: a review session that released nothing new
    released: bool
    review_outcomes: pl.DataFrame  # continuity.decisions.REVIEW_OUTCOMES of the date


def export_run(
    tables: DateTables,
    *,
    book_root: Path,
    home: Path,
    as_of: dt.date,
    latest_drop_date: dt.date,
    policy_date: dt.date | None,
    mode: Mode = "auto",
    operator: OperatorRecord | None = None,
) -> ExportOutcome:
    """The date's trade files: auto-released trades plus recorded review releases."""
    reviewed, outcomes = _reviewed(tables, book_root, as_of)
    trades = pl.concat([tables.released_trades, reviewed])
    release = releases(mode, as_of, latest_drop_date, released_dates(home))
    manifest = _export(
        tables,
        trades,
        book_root=book_root,
        home=home,
        as_of=as_of,
        policy_date=policy_date,
        release=release,
        operator=operator if release and mode == "release" else None,
    )
    return ExportOutcome(manifest, release, outcomes)


def review_session(
    tables: DateTables,
    decisions: pl.DataFrame,
    *,
    reviewer: str,
    decided_at: dt.datetime,
    book_root: Path,
    home: Path,
    as_of: dt.date,
    policy_date: dt.date | None,
) -> ExportOutcome:
    """Record one reviewer's decisions (REVIEW_DECISIONS) and release what they settle.

    Accounts already released on the date (by its run or an earlier session) are never
    released again; the new batch holds only the accounts this session settled.
    """
    already = released_trades_of(home, as_of)
    reviewed_batches = ",".join(released_batch_ids(home, as_of)) or None
    record_decisions(book_root, as_of, decisions, reviewer, decided_at, reviewed_batches)
    reviewed, outcomes = _reviewed(tables, book_root, as_of)
    new = reviewed.join(already.select("account_id").unique(), on="account_id", how="anti")
    if new.is_empty():
        return ExportOutcome(None, False, outcomes)
    manifest = _export(
        tables,
        new,
        book_root=book_root,
        home=home,
        as_of=as_of,
        policy_date=policy_date,
        release=True,
        kind="review",
    )
    return ExportOutcome(manifest, True, outcomes)


def _reviewed(
    tables: DateTables, book_root: Path, as_of: dt.date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(trades the date's recorded review decisions release, every decision's outcome)."""
    records = read_decision_records(book_root, as_of)
    return review_outcomes(tables.review_queue, records, tables.review_context)


def _export(
    tables: DateTables,
    trades: pl.DataFrame,
    *,
    book_root: Path,
    home: Path,
    as_of: dt.date,
    policy_date: dt.date | None,
    release: bool,
    kind: str = "run",
    operator: OperatorRecord | None = None,
) -> Manifest:
    """Write ``trades`` as a batch of the date, with the cash requests they raise and the
    provenance of the date's inputs."""
    return export_date(
        trades,
        requests_raised_by(tables.cash_requests, tables.routing_decisions, trades, as_of),
        tables.accounts,
        tables.securities,
        home=home,
        as_of=as_of,
        release=release,
        kind=kind,
        provenance=provenance(book_root, tables.source_files, as_of, policy_date),
        operator=operator,
    )
