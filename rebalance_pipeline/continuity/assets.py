"""Continuity wiring: the date's book carried on from the firm's earlier releases (the
release ledger), between ingest and validation."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from rebalance_pipeline.book import CARRIED_TABLES, Book, ingested
from rebalance_pipeline.ingest.assets import firm_files
from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource

GROUP = "continuity"
CARRIED = {
    "accounts": "The account master with each account's last firm trade date (the later of "
    "the master's and the release ledger's).",
    "cash_requests": "The cash requests still to raise (those raised, paid or cancelled left out).",
    "transactions": "The custodians' transactions of the lookback window plus the open "
    "pending orders as transactions of their release date.",
    "lots": "Tax lots the stages run on: the custodians' with the open pending orders netted "
    "in (policy continuity.pending_orders: net).",
    "positions": "Positions the stages run on: the custodians' with the open pending orders "
    "netted in (policy continuity.pending_orders: net).",
    "cash_balances": "Cash the stages run on: the custodians' less the open pending orders "
    "(when netted) and the cash reserved for raised, unpaid requests.",
}
CONTINUITY_TABLES = {
    "pending_orders": "Released trades the custodian's transactions do not show yet "
    "(open, or expired after the policy's business days), per account, security, side, lot.",
    "cash_request_status": "Every cash request's lifecycle state: requested, raised (by a "
    "released batch), paid (withdrawal seen) or cancelled.",
    "continuity_findings": "Warnings for operations: expired pending orders, raised cash "
    "requests unpaid past their due date.",
}
# the tables as read that continue_book looks at (securities: symbols of pending orders)
CONTINUITY_INS = {
    **{name: dg.AssetIn(key=ingested(name)) for name in CARRIED_TABLES},
    "securities": dg.AssetIn(key="securities"),
}


@dg.multi_asset(
    outs={
        name: dg.AssetOut(
            io_manager_key="warehouse", group_name=GROUP, kinds={"polars"}, description=text
        )
        for name, text in {**CARRIED, **CONTINUITY_TABLES}.items()
    },
    ins=CONTINUITY_INS,
    deps=[firm_files],
    partitions_def=business_day_partitions(),
    can_subset=False,
)
def continuity(
    context: dg.AssetExecutionContext, book: BookSource, **inputs: pl.DataFrame
) -> Iterator[dg.Output]:
    """Carry the firm's releases of earlier dates (the ledger as of the date) into the
    ingested tables (rebalance_pipeline/continuity): the lots, positions, cash, cash
    requests and last firm trade dates the stages run on."""
    from rebalance_pipeline.continuity import continue_book, read_ledger
    from rebalance_pipeline.continuity.cash_requests import read_cancellations

    as_of = partition_date(context.partition_key)
    ingested_book = Book.from_frames(as_of, **inputs)
    carried = continue_book(
        ingested_book,
        read_ledger(book.home(), as_of),
        book.policy(as_of),
        read_cancellations(book.path()),
    )
    tables = carried.book.tables()
    for name in CARRIED_TABLES:
        yield dg.Output(tables[name], output_name=name)
    yield dg.Output(
        carried.pending_orders,
        output_name="pending_orders",
        metadata={"open_orders": carried.pending_orders.filter(pl.col("status") == "open").height},
    )
    yield dg.Output(carried.cash_request_status, output_name="cash_request_status")
    yield dg.Output(carried.findings, output_name="continuity_findings")
