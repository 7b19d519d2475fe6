"""Review decisions as append-only, attributed records: inputs of the date they review.

Every recorded session is one new CSV under the book's
``firm/review_decisions/YYYY-MM-DD/<decided_at>-<reviewer>.csv`` (never edited, never
overwritten): the reviewed queue's decision columns plus who decided, when, and the
batch whose queue they reviewed. A date's run reads all of them in name order (a later
decision on the same trade wins) and judges each session's releases as the session did,
against what the date released before it, so a replay reproduces what review released.

Once a later date has been run, its routing decided the account again from the account's
actual state, so the date's open proposal for it is superseded: it takes no more
decisions (the later date's queue holds the proposal that stands). ``open_queue`` is what
is left to decide (the plain ``rebalance review``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import NamedTuple

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline import tables as t
from rebalance_pipeline.review.queue import (
    REVIEW_DECISIONS,
    REVIEWED_TRADES,
    TRADE_KEY,
    ReviewContext,
    apply_review_decisions,
    decisions_off_the_queue,
)
from rebalance_pipeline.routing.route import RELEASED_TRADES
from rebalance_pipeline.storage import atomic_write_bytes

DECISION_RECORDS = pl.Schema({**REVIEW_DECISIONS, "decided_at": t.Utf8, "batch_id": t.Utf8})
REVIEW_OUTCOMES = pl.Schema({**REVIEWED_TRADES, "decided_at": t.Utf8})
SUPERSESSIONS = pl.Schema({"account_id": t.Utf8, "superseded_by": t.Date})
FOLDER = ("firm", "review_decisions")


class DecisionRecordError(ValueError):
    """A decision session that cannot be recorded (no reviewer, no decision, a clash)."""


class SupersededProposalError(DecisionRecordError):
    """A session deciding proposals a later date's run has superseded."""


def decisions_dir(book_root: Path, as_of: dt.date) -> Path:
    return book_root.joinpath(*FOLDER, as_of.isoformat())


def record_decisions(
    book_root: Path,
    as_of: dt.date,
    decisions: pl.DataFrame,
    reviewer: str,
    decided_at: dt.datetime,
    batch_id: str | None,
) -> Path:
    """Append one session (REVIEW_DECISIONS rows with a decision) as a new file.

    The reviewer named here signs every row; rows without a decision are left out.
    """
    if not reviewer.strip():
        raise DecisionRecordError("a reviewer name is required")
    decided = decisions.filter(pl.col("decision").is_not_null())
    if decided.is_empty():
        raise DecisionRecordError("the file holds no decision (approve, reject or modify)")
    stamp = decided_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = decided.with_columns(
        pl.lit(reviewer.strip()).alias("reviewer"),
        pl.lit(stamp).alias("decided_at"),
        pl.lit(batch_id, t.Utf8).alias("batch_id"),
    )
    name = f"{stamp.replace(':', '')}-{_file_safe(reviewer)}.csv"
    path = decisions_dir(book_root, as_of) / name
    if path.exists():
        raise DecisionRecordError(f"{path} already exists: decisions are never overwritten")
    frame = t.conform(rows, DECISION_RECORDS).sort(TRADE_KEY)
    atomic_write_bytes(path, frame.write_csv().encode())
    return path


def refuse_off_the_queue(decisions: pl.DataFrame, review_queue: pl.DataFrame) -> None:
    """Raise ``DecisionRecordError`` naming every trade ``decisions`` (REVIEW_DECISIONS)
    decide that ``review_queue`` does not hold: a record is only ever of a queued trade."""
    unknown = decisions_off_the_queue(review_queue, decisions)
    if not unknown.is_empty():
        notes = [
            f"{account} {security} {side} lot {lot or '-'}: {decision}"
            for account, security, side, lot, decision in unknown.select(
                *TRADE_KEY, "decision"
            ).iter_rows()
        ]
        heading = "refused, nothing recorded: decisions for trades not in the queue"
        raise DecisionRecordError("\n".join([heading, *notes]))


def refuse_superseded(decisions: pl.DataFrame, supersessions: pl.DataFrame, as_of: dt.date) -> None:
    """Raise ``SupersededProposalError`` when ``decisions`` (REVIEW_DECISIONS) decide an
    account of ``supersessions`` (SUPERSESSIONS).

    A reject would release nothing, but it would settle an account whose other rows an
    earlier session approved; refusing every decision keeps a superseded proposal open.
    """
    decided = decisions.filter(pl.col("decision").is_not_null()).select("account_id")
    late = supersessions.join(decided.unique(), on="account_id", how="semi")
    if not late.is_empty():
        notes = superseded_notes(late, as_of)
        heading = "refused, nothing recorded: decisions on superseded proposals"
        raise SupersededProposalError("\n".join([heading, *notes]))


def superseded_notes(supersessions: pl.DataFrame, as_of: dt.date) -> list[str]:
    """One line per superseded account, saying which date's queue to review instead."""
    return [
        f"{account}: its proposal of {as_of} is superseded by the run of {later}, which "
        f"decided the account again; review {later}'s queue instead "
        f"(rebalance review --date {later})"
        for account, later in supersessions.sort("account_id").iter_rows()
    ]


def read_decision_records(book_root: Path, as_of: dt.date) -> pl.DataFrame:
    """Every recorded decision of the date, oldest session first (DECISION_RECORDS)."""
    frames = [
        pl.read_csv(path, schema=DECISION_RECORDS)
        for path in sorted(decisions_dir(book_root, as_of).glob("*.csv"))
    ]
    return pl.concat([t.empty(DECISION_RECORDS), *frames])


class ReviewedDate(NamedTuple):
    released: pl.DataFrame  # RELEASED_TRADES the recorded decisions release
    outcomes: pl.DataFrame  # REVIEW_OUTCOMES: every settled decision
    findings: pl.DataFrame  # review.queue.REVIEW_FINDINGS: why accounts stay queued


def review_outcomes(
    review_queue: pl.DataFrame,
    records: pl.DataFrame,
    released: pl.DataFrame,
    context: ReviewContext,
) -> ReviewedDate:
    """What the recorded sessions (DECISION_RECORDS) release beyond ``released``, the
    trades the date released otherwise (account, security, side, lot, quantity).

    Sessions are taken in the order recorded, each judged against ``released`` plus what
    the sessions before it released, as ``rebalance review`` judged it when it ran.
    """
    *earlier, every = _sessions_so_far(records)
    released = t.conform(released, RELEASED_TRADES)
    for decisions in earlier:
        session = apply_review_decisions(review_queue, decisions, released, context)
        released = _plus_new_accounts(released, session.released)
    outcome = apply_review_decisions(review_queue, every, released, context)
    stamps = records.select(*TRADE_KEY, "decided_at").unique(
        TRADE_KEY, keep="last", maintain_order=True
    )
    settled = pl.concat([outcome.released, outcome.rejected]).join(
        stamps, on=TRADE_KEY, how="left", nulls_equal=True
    )
    outcomes = t.conform(settled, REVIEW_OUTCOMES).sort("account_id", "security_id", "side")
    return ReviewedDate(t.conform(outcome.released, RELEASED_TRADES), outcomes, outcome.findings)


def reviewed_date(
    review_queue: pl.DataFrame,
    context: ReviewContext,
    book_root: Path,
    as_of: dt.date,
    released: pl.DataFrame,
) -> ReviewedDate:
    """What the date's recorded review decisions release beyond ``released``, each
    decision's outcome and why accounts stay in the queue."""
    records = read_decision_records(book_root, as_of)
    return review_outcomes(review_queue, records, released, context)


@dataclasses.dataclass(frozen=True)
class OpenQueue:
    trades: pl.DataFrame  # routing.route.REVIEW_QUEUE rows still to decide
    superseded: pl.DataFrame  # SUPERSESSIONS of the open accounts left out


def open_queue(
    review_queue: pl.DataFrame,
    context: ReviewContext,
    released: pl.DataFrame,
    *,
    book_root: Path,
    home: Path,
    as_of: dt.date,
) -> OpenQueue:
    """The date's review queue without settled accounts nor those a later date superseded;
    ``released`` the trades released for the date (the release ledger's)."""
    settled = reviewed_date(review_queue, context, book_root, as_of, released).outcomes
    unsettled = review_queue.join(settled.select("account_id"), on="account_id", how="anti")
    superseded = superseded_accounts(home, as_of).join(unsettled, on="account_id", how="semi")
    return OpenQueue(unsettled.join(superseded, on="account_id", how="anti"), superseded)


def superseded_accounts(home: Path, as_of: dt.date) -> pl.DataFrame:
    """SUPERSESSIONS: every account a date after ``as_of`` decided, with the latest such date
    (the stored ``routing_decisions`` partitions of later dates)."""
    later = [day for day in storage.materialized_dates("routing_decisions", home) if day > as_of]
    decided = [
        storage.read_partition("routing_decisions", day, home)
        .select("account_id")
        .with_columns(pl.lit(day).alias("superseded_by"))
        for day in later
    ]
    every = pl.concat([t.empty(SUPERSESSIONS), *decided])
    return every.group_by("account_id").agg(pl.col("superseded_by").max()).sort("account_id")


def _plus_new_accounts(released: pl.DataFrame, reviewed: pl.DataFrame) -> pl.DataFrame:
    """``released`` with the ``reviewed`` trades of accounts it does not hold yet."""
    new = t.conform(reviewed, RELEASED_TRADES).join(released, on="account_id", how="anti")
    return pl.concat([released, new])


def _sessions_so_far(records: pl.DataFrame) -> list[pl.DataFrame]:
    """REVIEW_DECISIONS of the first session, of the first two, ..., of all (one frame,
    empty, when none is recorded); a session is one file: its rows share reviewer and
    time and follow each other."""
    session = pl.struct("decided_at", "reviewer").rle_id()
    numbered = records.with_columns(session.alias("session"))
    so_far = [
        numbered.filter(pl.col("session") <= last) for last in range(numbered["session"].n_unique())
    ]
    return [frame.select(REVIEW_DECISIONS.names()) for frame in so_far or [numbered]]


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "reviewer"
