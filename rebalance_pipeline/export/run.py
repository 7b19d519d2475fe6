"""The export of a date's run, and of a review session, over the continuity rules.

``export_run`` is what the ``trade_files`` asset does: the date's auto-released trades
plus those the recorded review decisions release, written as a release or a replay.
``review_session`` is ``rebalance review --decisions``: record the session, then release
the newly settled accounts' trades as a review batch of the date (what is left to decide
is ``review.records.open_queue``).

A review releases an account's trades only when they pass the compliance rules, judged
together with every trade the date released: what the release ledger holds for the date
in a session, the run's released trades and the earlier sessions' releases in a run.

A proposal stays open for review only until a later date has been run: that date's
routing decided the account again (see ``review.records``), whether it released or
replayed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.continuity.cash_requests import requests_raised_by
from rebalance_pipeline.continuity.ledger import released_batch_ids, released_dates
from rebalance_pipeline.export.provenance import provenance
from rebalance_pipeline.export.release import (
    Mode,
    OperatorRecord,
    export_date,
    release_lock,
    released_trades_of,
    releases,
)
from rebalance_pipeline.export.trade_files import Manifest
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.review.queue import ReviewContext
from rebalance_pipeline.review.records import (
    record_decisions,
    refuse_off_the_queue,
    refuse_superseded,
    reviewed_date,
    superseded_accounts,
)


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
    review_context: ReviewContext  # what review releases are judged against

    @classmethod
    def _own_tables(cls) -> list[str]:
        return [field.name for field in dataclasses.fields(cls) if field.name != "review_context"]

    @classmethod
    def table_names(cls) -> tuple[str, ...]:
        """The date's stored tables (asset names) the fields are made of."""
        return tuple(dict.fromkeys([*cls._own_tables(), *ReviewContext.table_names()]))

    @classmethod
    def from_tables(
        cls, tables: Mapping[str, pl.DataFrame], policy: Policy, as_of: dt.date
    ) -> DateTables:
        """From the date's tables of ``table_names`` and the policy in force on it."""
        return cls(
            **{name: tables[name] for name in cls._own_tables()},
            review_context=ReviewContext.from_tables(tables, policy, as_of),
        )

    @classmethod
    def stored(cls, day: dt.date, home: Path, policy: Policy) -> DateTables:
        """From the warehouse partitions of ``day``."""
        tables = {name: storage.read_partition(name, day, home) for name in cls.table_names()}
        return cls.from_tables(tables, policy, day)


@dataclasses.dataclass(frozen=True)
class ExportOutcome:
    manifest: Manifest | None  # None: a review session that released nothing new
    released: bool
    review_outcomes: pl.DataFrame  # review.records.REVIEW_OUTCOMES of the date
    review_findings: pl.DataFrame  # review.queue.REVIEW_FINDINGS: why accounts stay queued


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
    """The date's trade files: auto-released trades plus recorded review releases.

    Decided and written under the date's release lock: a second run of the date started
    meanwhile finds the release done and replays."""
    with release_lock(home, as_of):
        reviewed = reviewed_date(
            tables.review_queue, tables.review_context, book_root, as_of, tables.released_trades
        )
        trades = pl.concat([tables.released_trades, reviewed.released])
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
    return ExportOutcome(manifest, release, reviewed.outcomes, reviewed.findings)


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
    """Record one reviewer's decisions (REVIEW_DECISIONS) and release what they settle and
    the compliance rules pass (``review_findings`` says why an account stays queued).

    Accounts already released on the date (by its run or an earlier session) are never
    released again, nor are accounts a later date superseded (an approval recorded but
    never released stays unsent); the new batch holds only the accounts this session
    settled. A session deciding a superseded proposal or a trade the queue does not hold
    is refused, nothing recorded. The
    session holds the date's release lock, as a run's export does.
    """
    with release_lock(home, as_of):
        superseded = superseded_accounts(home, as_of)
        refuse_superseded(decisions, superseded, as_of)
        refuse_off_the_queue(decisions, tables.review_queue)
        already = released_trades_of(home, as_of)
        reviewed_batches = ",".join(released_batch_ids(home, as_of)) or None
        record_decisions(book_root, as_of, decisions, reviewer, decided_at, reviewed_batches)
        reviewed = reviewed_date(
            tables.review_queue, tables.review_context, book_root, as_of, already
        )
        held = pl.concat([already.select("account_id"), superseded.select("account_id")])
        new = reviewed.released.join(held.unique(), on="account_id", how="anti")
        if new.is_empty():
            return ExportOutcome(None, False, reviewed.outcomes, reviewed.findings)
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
        return ExportOutcome(manifest, True, reviewed.outcomes, reviewed.findings)


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
