"""One date's review as ``rebalance review`` and the review screen both do it: the open
queue, and a reviewer's session recorded and released through ``export.run.review_session``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.daily_report.assets import report_after_review
from rebalance_pipeline.export.assets import report_review_session
from rebalance_pipeline.export.release import released_trades_of
from rebalance_pipeline.export.run import DateTables, ExportOutcome, review_session
from rebalance_pipeline.policy import book_policy
from rebalance_pipeline.review.records import OpenQueue, open_queue


@dataclasses.dataclass(frozen=True)
class ReviewDesk:
    """The review of ``day`` for the book at ``book``, the date's tables under ``home``."""

    book: Path
    home: Path
    day: dt.date

    def tables(self) -> DateTables:
        return DateTables.stored(self.day, self.home, book_policy(self.book, self.day))

    def open_queue(self, tables: DateTables | None = None) -> OpenQueue:
        """What is left to decide: settled and superseded accounts left out."""
        tables = tables or self.tables()
        return open_queue(
            tables.review_queue,
            tables.review_context,
            released_trades_of(self.home, self.day),
            book_root=self.book,
            home=self.home,
            as_of=self.day,
        )

    def record(
        self, decisions: pl.DataFrame, reviewer: str, decided_at: dt.datetime
    ) -> ExportOutcome:
        """Record one session (REVIEW_DECISIONS), release what it settles, store the
        date's ``review_outcomes`` and build its daily report again; raises
        ``DecisionRecordError`` when it cannot be recorded (nothing is then written)."""
        tables = self.tables()
        outcome = review_session(
            tables,
            decisions,
            reviewer=reviewer,
            decided_at=decided_at,
            book_root=self.book,
            home=self.home,
            as_of=self.day,
            policy_date=tables.review_context.policy.effective_date,
        )
        storage.write_partition(outcome.review_outcomes, "review_outcomes", self.day, self.home)
        report_review_session(
            self.dagster_home(), self.day, tables.review_queue, outcome.review_outcomes
        )
        report_after_review(self.dagster_home(), self.day, self.home)
        return outcome

    def dagster_home(self) -> Path:
        """The Dagster instance of the home (``$DAGSTER_HOME`` when set, as a run uses)."""
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")


def still_queued_lines(outcome: ExportOutcome) -> list[str]:
    """One line per finding that keeps an account in the queue (account, security, check,
    message)."""
    return [
        f"{' '.join(filter(None, (account, security)))}: {check}: {message}"
        for account, security, _, check, message in outcome.review_findings.iter_rows()
    ]
