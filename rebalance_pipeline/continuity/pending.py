"""Pending orders: released trades the custodian's transactions do not show yet.

A released trade is matched against the custodian's buys and sells of the same account,
security and side dated after its release, oldest release first (a fill may be partial
and one execution may fill several orders). What is left is open until the policy's
expiry, after which it is ``expired``: no longer netted, and a finding for operations.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book
from rebalance_pipeline.calendar import business_days_between

PENDING_ORDERS = pl.Schema(
    {
        "account_id": t.Utf8,
        "security_id": t.Utf8,
        "side": t.Utf8,
        "lot_id": t.Utf8,
        "release_date": t.Date,
        "batch_id": t.Utf8,
        "released_quantity": t.F64,
        "filled_quantity": t.F64,
        "open_quantity": t.F64,
        "price": t.F64,
        "status": t.Utf8,  # open | expired
    }
)
ORDER_KEY = ["account_id", "security_id", "side"]
SORT_KEY = ["account_id", "security_id", "side", "release_date", "batch_id", "lot_id"]


def pending_orders(
    ledger_trades: pl.DataFrame,
    transactions: pl.DataFrame,
    as_of: dt.date,
    expiry_business_days: int,
    tolerance: float,
    window_business_days: int,
) -> pl.DataFrame:
    """PENDING_ORDERS: every released trade (LEDGER_TRADES) not fully filled by ``as_of``.

    Releases older than ``window_business_days`` (the transactions' lookback window,
    beyond which an execution could not be seen) are left out.
    """
    age_of = {
        day: business_days_between(day, as_of) for day in ledger_trades["release_date"].unique()
    }
    ages = ledger_trades["release_date"].replace_strict(age_of, return_dtype=t.I64)
    orders = (
        ledger_trades.with_columns(ages.alias("age"))
        .filter(pl.col("age") <= window_business_days)
        .sort(SORT_KEY, nulls_last=True)
    )
    fills = _fills(orders, _executions(transactions, as_of))
    pending = orders.with_columns(
        pl.col("quantity").alias("released_quantity"),
        pl.Series("filled_quantity", fills, t.F64),
        (pl.col("quantity") - pl.Series(fills, dtype=t.F64)).alias("open_quantity"),
    ).filter(pl.col("open_quantity") > tolerance)
    pending = pending.with_columns(
        pl.when(pl.col("age") > expiry_business_days)
        .then(pl.lit("expired"))
        .otherwise(pl.lit("open"))
        .alias("status")
    )
    return t.conform(pending, PENDING_ORDERS)


def _executions(transactions: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    return (
        transactions.filter(
            pl.col("type").is_in(["buy", "sell"])
            & (pl.col("trade_date") <= as_of)
            & pl.col("quantity").is_not_null()
        )
        .select(
            "account_id",
            "security_id",
            pl.col("type").alias("side"),
            "trade_date",
            pl.col("quantity").abs(),
        )
        .sort("trade_date", "account_id", "security_id", "quantity")
    )


def _fills(orders: pl.DataFrame, executions: pl.DataFrame) -> list[float]:
    """Quantity of each order (in ``orders``' row order) that executions dated after its
    release fill, oldest order first."""
    open_left = orders["quantity"].fill_null(0.0).to_list()
    by_key: dict[tuple, list[int]] = {}
    for index, key in enumerate(orders.select(ORDER_KEY).iter_rows()):
        by_key.setdefault(key, []).append(index)
    released = orders["release_date"].to_list()
    for account, security, side, day, quantity in executions.iter_rows():
        left = quantity
        for index in by_key.get((account, security, side), []):
            if left <= 0:
                break
            if released[index] >= day or open_left[index] <= 0:
                continue
            taken = min(left, open_left[index])
            open_left[index] -= taken
            left -= taken
    return [q - o for q, o in zip(orders["quantity"].fill_null(0.0), open_left, strict=True)]


def net_into_book(book: Book, pending: pl.DataFrame, cash_deltas: pl.DataFrame) -> Book:
    """The book as if the open pending orders had settled and reserved cash were spent.

    Sells come out of their lots and positions, buys come in as a new lot
    (``pending-<batch>-<security>``, cost = released amount, acquired on the release date)
    and cash moves by the released amounts. ``cash_deltas`` (account_id, cash_delta) are
    further cash adjustments, e.g. cash reserved for raised requests.
    """
    open_orders = pending.filter(pl.col("status") == "open")
    signed = pl.when(pl.col("side") == "buy").then(1.0).otherwise(-1.0) * pl.col("open_quantity")
    moves = open_orders.with_columns(signed.alias("delta"))
    trade_cash = moves.group_by("account_id").agg(
        (-pl.col("delta") * pl.col("price")).sum().alias("cash_delta")
    )
    return Book.from_frames(
        book.as_of,
        **(
            book.tables()
            | {
                "positions": _net_positions(book, moves),
                "lots": _net_lots(book, moves),
                "cash_balances": _net_cash(book, pl.concat([trade_cash, cash_deltas])),
            }
        ),
    )


def pending_transactions(book: Book, pending: pl.DataFrame) -> pl.DataFrame:
    """The open pending orders as TRANSACTIONS rows dated on their release, so the
    household's wash-sale windows see the firm's trades before the custodian does.

    A sell's realized gain is its share of its lot's cost basis in the book (null when
    the lot is not in it); ids are ``pending:<batch>:<account>:<security>:<side>:<lot>``.
    """
    orders = pending.filter(pl.col("status") == "open")
    lots = (
        book.lots.filter(pl.col("account_id").is_in(orders.get_column("account_id").implode()))
        .select("account_id", "lot_id", pl.col("quantity").alias("lot_quantity"), "cost_basis")
        .unique(["account_id", "lot_id"], keep="first")
    )
    orders = orders.join(lots, on=["account_id", "lot_id"], how="left", maintain_order="left")
    proceeds = pl.col("open_quantity") * pl.col("price")
    gain = proceeds - pl.col("cost_basis") * pl.col("open_quantity") / pl.col("lot_quantity")
    rows = orders.join(_custodians(book), on="account_id", how="left").join(
        _symbols(book), on="security_id", how="left"
    )
    rows = rows.with_columns(
        pl.format(
            "pending:{}:{}:{}:{}:{}",
            "batch_id",
            "account_id",
            "security_id",
            "side",
            pl.col("lot_id").fill_null(""),
        ).alias("transaction_id"),
        pl.col("release_date").alias("trade_date"),
        pl.col("side").alias("type"),
        pl.col("open_quantity").alias("quantity"),
        pl.when(pl.col("side") == "sell").then(proceeds).otherwise(-proceeds).alias("amount"),
        pl.when(pl.col("side") == "sell").then(gain).alias("realized_gain"),
        _ledger_source().alias("source_file"),
    )
    return t.conform(rows, t.TRANSACTIONS).sort("transaction_id")


def _ledger_source() -> pl.Expr:
    return pl.format("ledger/{}/{}.json", "release_date", "batch_id")


def _settled(quantity: str = "quantity") -> pl.Expr:
    """Rows the netting did not touch stay as sent; touched ones go when nothing is left."""
    return pl.col("delta").is_null() | (pl.col(quantity).abs() > 1e-9)


def _with_deltas(frame: pl.DataFrame, deltas: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """``frame`` with the ``delta`` of its ``key`` (``deltas`` has one row per key), null
    where there is none: what a left join gives, looking up only the rows of the few
    accounts with a delta."""
    indexed = frame.with_row_index("_row")
    accounts = deltas.get_column("account_id").implode()
    found = (
        indexed.filter(pl.col("account_id").is_in(accounts))
        .join(deltas.select(*key, "delta"), on=key)
        .select("_row", "delta")
    )
    delta = pl.repeat(None, frame.height, dtype=deltas.schema["delta"], eager=True).alias("delta")
    return frame.with_columns(delta.scatter(found.get_column("_row"), found.get_column("delta")))


def _net_positions(book: Book, moves: pl.DataFrame) -> pl.DataFrame:
    deltas = moves.group_by("account_id", "security_id").agg(pl.col("delta").sum())
    joined = _with_deltas(book.positions, deltas, ["account_id", "security_id"])
    updated = (
        joined.with_columns(pl.col("quantity") + pl.col("delta").fill_null(0.0))
        .filter(_settled())
        .drop("delta")
    )
    new = deltas.join(book.positions, on=["account_id", "security_id"], how="anti").join(
        _custodians(book), on="account_id", how="left"
    )
    new = new.join(_symbols(book), on="security_id", how="left").with_columns(
        pl.col("delta").alias("quantity"), pl.lit("ledger").alias("source_file")
    )
    new = new.sort("account_id", "security_id")
    return pl.concat([t.conform(updated, t.POSITIONS), t.conform(new, t.POSITIONS)])


def _net_lots(book: Book, moves: pl.DataFrame) -> pl.DataFrame:
    sold = (
        moves.filter(pl.col("side") == "sell")
        .group_by("account_id", "lot_id")
        .agg(pl.col("delta").sum())
    )
    lots = _with_deltas(book.lots, sold, ["account_id", "lot_id"])
    kept_share = 1 + pl.col("delta").fill_null(0.0) / pl.col("quantity")
    remaining = (
        lots.with_columns(
            (pl.col("quantity") + pl.col("delta").fill_null(0.0)).alias("quantity"),
            (pl.col("cost_basis") * kept_share).alias("cost_basis"),
        )
        .filter(_settled())
        .drop("delta")
    )
    bought = (
        moves.filter(pl.col("side") == "buy")
        .join(_custodians(book), on="account_id", how="left")
        .join(_symbols(book), on="security_id", how="left")
        .with_columns(
            pl.concat_str([pl.lit("pending-"), "batch_id", pl.lit("-"), "security_id"]).alias(
                "lot_id"
            ),
            pl.col("delta").alias("quantity"),
            (pl.col("delta") * pl.col("price")).alias("cost_basis"),
            pl.col("release_date").alias("acquired_date"),
            _ledger_source().alias("source_file"),
        )
    )
    bought = bought.sort("account_id", "lot_id", "release_date")
    return pl.concat([t.conform(remaining, t.LOTS), t.conform(bought, t.LOTS)])


def _net_cash(book: Book, deltas: pl.DataFrame) -> pl.DataFrame:
    total = deltas.group_by("account_id").agg(pl.col("cash_delta").sum())
    updated = book.cash_balances.join(
        total, on="account_id", how="left", maintain_order="left"
    ).with_columns((pl.col("cash") + pl.col("cash_delta").fill_null(0.0)).alias("cash"))
    new = total.join(book.cash_balances, on="account_id", how="anti").join(
        _custodians(book), on="account_id", how="left"
    )
    new = new.with_columns(
        pl.col("cash_delta").alias("cash"), pl.lit("ledger").alias("source_file")
    ).sort("account_id")
    return t.conform(
        pl.concat([t.conform(updated, t.CASH_BALANCES), t.conform(new, t.CASH_BALANCES)]),
        t.CASH_BALANCES,
    )


def _custodians(book: Book) -> pl.DataFrame:
    return book.accounts.select("account_id", "custodian").unique("account_id")


def _symbols(book: Book) -> pl.DataFrame:
    return book.securities.select("security_id", "symbol").unique("security_id")
