"""A late approval never trades an account twice: a later date's run supersedes the
account's open review item.

Every account group is reviewed, so Monday (p03) queues A03's withdrawal trades
(sell 2049 SEC-BOND, sell 114 SEC-TMKT, buy 1104 SEC-BND2) and releases nothing. When
Monday's queue is still open on Tuesday, Tuesday proposes the same three trades afresh;
when Monday's approval went out first, Tuesday nets them as pending orders.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from continuity_days import (
    MONDAY,
    TUESDAY,
    WEDNESDAY,
    book_on,
    date_tables,
    release_day,
    reviewing_all,
    run_day,
    store_date_tables,
)

from rebalance_pipeline.continuity import read_ledger
from rebalance_pipeline.continuity.ledger import released_batch_ids
from rebalance_pipeline.export.run import DateTables, export_run, review_session
from rebalance_pipeline.review.queue import REVIEW_DECISIONS
from rebalance_pipeline.review.records import (
    DecisionRecordError,
    decisions_dir,
    record_decisions,
)

WITHDRAWAL_TRADES = [
    ("SEC-BND2", "buy", 1104.0),
    ("SEC-BOND", "sell", 2049.0),
    ("SEC-TMKT", "sell", 114.0),
]
SUPERSEDED = "A03.*2026-03-16.*superseded.*2026-03-17.*review 2026-03-17's queue instead"


@dataclasses.dataclass(frozen=True)
class Days:
    book_root: Path
    home: Path
    monday: DateTables
    run_tuesday: Callable[[], DateTables]  # runs, exports and stores Tuesday


@pytest.fixture
def days(p03, tmp_path) -> Days:
    """Monday run, exported and stored with A03 in review; Tuesday run on demand."""
    book, policy = p03
    policy = reviewing_all(policy)
    home = tmp_path / "home"

    def run(day: dt.date) -> DateTables:
        carried, outputs = run_day(book_on(book, day), policy, home)
        release_day(carried, outputs, home)
        tables = date_tables(carried, outputs, policy)
        store_date_tables(tables, day, home)
        return tables

    return Days(tmp_path / "book", home, run(MONDAY), lambda: run(TUESDAY))


def decided(queue: pl.DataFrame, decision: str) -> pl.DataFrame:
    return queue.with_columns(pl.lit(decision).alias("decision")).select(REVIEW_DECISIONS.names())


def session(days: Days, tables: DateTables, decisions: pl.DataFrame | str, as_of: dt.date):
    """One review session at 18:30 of ``as_of``: the given decisions, or every queued
    trade given the one decision named."""
    if isinstance(decisions, str):
        decisions = decided(tables.review_queue, decisions)
    return review_session(
        tables,
        decisions,
        reviewer="Dana",
        decided_at=dt.datetime.combine(as_of, dt.time(18, 30), dt.UTC),
        book_root=days.book_root,
        home=days.home,
        as_of=as_of,
        policy_date=None,
    )


def ledger_trades(home: Path) -> list[tuple]:
    trades = read_ledger(home, WEDNESDAY).trades.sort("release_date", "security_id")
    return trades.select("release_date", "security_id", "side", "quantity").rows()


def test_a_late_approval_is_refused_and_the_later_proposal_released_once(days):
    tuesday = days.run_tuesday()
    assert tuesday.review_queue.select("security_id", "side", "quantity").rows() == (
        WITHDRAWAL_TRADES
    )
    run_batch = released_batch_ids(days.home, MONDAY)

    with pytest.raises(DecisionRecordError, match=SUPERSEDED):
        session(days, days.monday, "approve", MONDAY)
    with pytest.raises(DecisionRecordError, match=SUPERSEDED):
        session(days, days.monday, "modify", MONDAY)  # refused before any re-check

    assert not decisions_dir(days.book_root, MONDAY).exists()
    assert released_batch_ids(days.home, MONDAY) == run_batch
    assert not list((days.home / "trades" / MONDAY.isoformat()).glob("batch-*"))
    assert ledger_trades(days.home) == []

    released = session(days, tuesday, "approve", TUESDAY)
    assert released.manifest is not None and released.manifest.kind == "review"
    assert ledger_trades(days.home) == [(TUESDAY, *trade) for trade in WITHDRAWAL_TRADES]


def test_a_reject_of_a_superseded_item_is_refused_too(days):
    days.run_tuesday()
    with pytest.raises(DecisionRecordError, match=SUPERSEDED):
        session(days, days.monday, "reject", MONDAY)
    assert not decisions_dir(days.book_root, MONDAY).exists()


def test_an_approval_recorded_but_never_released_stays_unreleased_once_superseded(days):
    """A Monday session interrupted between its record and its release leaves A03's
    approval on file; once Tuesday decided A03, a later Monday session (here one for an
    account Tuesday did not decide, queued beside A03) must not send it."""
    approval = decided(days.monday.review_queue, "approve")
    interrupted = dt.datetime(2026, 3, 16, 17, 0, tzinfo=dt.UTC)
    record_decisions(days.book_root, MONDAY, approval, "Dana", interrupted, None)
    days.run_tuesday()
    a99 = days.monday.review_queue.head(1).with_columns(pl.lit("A99").alias("account_id"))
    monday = dataclasses.replace(
        days.monday, review_queue=pl.concat([days.monday.review_queue, a99])
    )
    other_account = decided(a99, "reject")
    assert session(days, monday, other_account, MONDAY).manifest is None
    assert ledger_trades(days.home) == []


def test_an_approval_before_the_next_date_ran_is_pending_there(days, p03):
    approved = session(days, days.monday, "approve", MONDAY)
    assert approved.manifest is not None and approved.manifest.kind == "review"

    book, policy = p03
    carried, outputs = run_day(book_on(book, TUESDAY), reviewing_all(policy), days.home)
    pending = carried.pending_orders.sort("security_id")
    assert pending.select("security_id", "side", "open_quantity").rows() == WITHDRAWAL_TRADES
    assert carried.book.cash_requests.is_empty()  # raised by Monday's review batch
    assert outputs.routing.decisions.select("route").item() == "NO_TRADE"
    assert outputs.routing.review_queue.is_empty()
    assert ledger_trades(days.home) == [(MONDAY, *trade) for trade in WITHDRAWAL_TRADES]

    # a backfill of Monday after Tuesday reproduces the review release and sends nothing
    replay = export_run(
        days.monday,
        book_root=days.book_root,
        home=days.home,
        as_of=MONDAY,
        latest_drop_date=TUESDAY,
        policy_date=None,
    )
    assert replay.released is False
    diff = json.loads((replay.manifest.folder / "diff.json").read_text())
    assert diff["accounts_changed"] == []


def test_the_review_command_leaves_superseded_accounts_out_and_refuses_them(
    days, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from rebalance_pipeline.cli import app

    days.run_tuesday()
    monkeypatch.setenv("REBALANCE_HOME", str(days.home))
    runner = CliRunner()
    base = ["review", "--date", "2026-03-16", "--book", str(days.book_root)]

    shown = runner.invoke(app, base)
    assert shown.exit_code == 0, shown.output
    assert len(shown.stdout.splitlines()) == 1  # the header only
    assert shown.stdout.startswith("account_id,security_id,side,lot_id")
    assert "A03" in shown.stderr and "review 2026-03-17's queue instead" in shown.stderr

    decisions = tmp_path / "decided.csv"
    decided(days.monday.review_queue, "approve").write_csv(decisions)
    refused = runner.invoke(app, [*base, "--decisions", str(decisions), "--reviewer", "Dana"])
    assert refused.exit_code == 1
    assert "review 2026-03-17's queue instead" in refused.stderr
    assert not decisions_dir(days.book_root, MONDAY).exists()
