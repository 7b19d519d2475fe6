"""Helpers of the continuity tests: a date's run as the pipeline does it, and its export.

The book is the acceptance book p03 (one account, a $60,000 withdrawal due on Monday
2026-03-16) carried over three business days."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book
from rebalance_pipeline.continuity import Continuity, continue_book, read_ledger
from rebalance_pipeline.continuity.cash_requests import CANCELLATIONS, requests_raised_by
from rebalance_pipeline.export.release import export_date
from rebalance_pipeline.export.run import DateTables
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.workflow import DateOutputs, run_stages

P03 = Path(__file__).with_name("withdrawal_book.yaml")  # the acceptance book p03's data
MONDAY = dt.date(2026, 3, 16)
TUESDAY = dt.date(2026, 3, 17)
WEDNESDAY = dt.date(2026, 3, 18)


def book_on(book: Book, day: dt.date, **frames: pl.DataFrame) -> Book:
    """The same book on a later day (closes dated that day), with some tables replaced."""
    prices = book.prices.with_columns(pl.lit(day).alias("price_date"))
    changed = {name: t.conform(frame, getattr(t, _SCHEMAS[name])) for name, frame in frames.items()}
    return dataclasses.replace(book, as_of=day, prices=prices, **changed)


_SCHEMAS = {
    "lots": "LOTS",
    "positions": "POSITIONS",
    "transactions": "TRANSACTIONS",
    "cash_balances": "CASH_BALANCES",
}


def reviewing_all(policy: Policy) -> Policy:
    """The policy with every account group's review set to ``all``: nothing auto-releases."""
    groups = [group.model_copy(update={"review": "all"}) for group in policy.account_groups]
    return policy.model_copy(update={"account_groups": groups})


def run_day(book: Book, policy: Policy, home: Path) -> tuple[Continuity, DateOutputs]:
    """One date as the pipeline runs it: carried on from the ledger, every stage."""
    carried = continue_book(book, read_ledger(home, book.as_of), policy, t.empty(CANCELLATIONS))
    return carried, run_stages(carried.book, policy, carried.pending_orders)


def release_day(carried: Continuity, outputs: DateOutputs, home: Path, release: bool = True):
    """Write the date's trade files as the export stage does (release or replay)."""
    released = outputs.routing.released_trades
    raised = requests_raised_by(
        carried.book.cash_requests, outputs.routing.decisions, released, carried.book.as_of
    )
    return export_date(
        released,
        raised,
        carried.book.accounts,
        carried.book.securities,
        home=home,
        as_of=carried.book.as_of,
        release=release,
    )


def date_tables(carried: Continuity, outputs: DateOutputs, policy: Policy) -> DateTables:
    """What the export stage reads, straight from one date's in-memory outputs."""
    routing = outputs.routing
    tables = carried.book.tables() | outputs.features
    tables |= {
        "account_status": outputs.validation.account_status,
        "released_trades": routing.released_trades,
        "review_queue": routing.review_queue,
        "routing_decisions": routing.decisions,
    }
    return DateTables.from_tables(tables, policy, carried.book.as_of)


def store_date_tables(tables: DateTables, day: dt.date, home: Path) -> None:
    """Write the partitions ``DateTables.stored`` reads, as the date's run materializes them."""
    frames = [tables, tables.review_context.inputs]
    stored = {
        field.name: getattr(frame, field.name)
        for frame in frames
        for field in dataclasses.fields(frame)
        if field.name != "review_context"
    }
    for table, frame in stored.items():
        storage.write_partition(frame, table, day, home)


def folder_state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and modification time of every file under ``folder`` outside replays."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.relative_to(folder).parts[0].startswith("replay-")
    }
