"""Validation rules on securities and prices: unknown securities, missing prices, price
moves, splits effective today, realized gains of unknown cost.

Each returns draft findings scoped to the accounts it touches (see ``file_rules.py``).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.policy import ValidationPolicy
from rebalance_pipeline.validation import scope
from rebalance_pipeline.validation.findings import draft, with_check


def _recent_symbol_changes(book: Book, policy: ValidationPolicy) -> pl.DataFrame:
    # lookback in business days, widened to calendar days (5 business days per 7)
    earliest = book.as_of - dt.timedelta(days=-(-policy.lookback_business_days * 7 // 5))
    return (
        book.corporate_actions.filter(
            (pl.col("action") == "symbol_change")
            & pl.col("effective_date").is_between(earliest, book.as_of)
        )
        .sort("effective_date", "new_symbol")
        .unique("symbol", keep="last")
        .select("symbol", "new_symbol")
    )


def unknown_securities(book: Book, policy: ValidationPolicy) -> pl.DataFrame:
    """Lots and positions in a security missing from the security master; when the symbol
    is the old symbol of a recent symbol change, the check is symbol_change_not_applied."""
    known = book.securities.select("security_id")
    changes = _recent_symbol_changes(book, policy)
    cols = ["account_id", "security_id", "symbol", "custodian", "source_file", "source_row"]
    rows = pl.concat([book.positions.select(cols), book.lots.select(cols)])
    unknown = pl.concat(
        [
            rows.filter(pl.col("security_id").is_null()),
            rows.drop_nulls("security_id").join(known, on="security_id", how="anti"),
        ]
    ).join(changes, on="symbol", how="left")
    changed = pl.col("new_symbol").is_not_null()
    unknown = unknown.with_columns(
        pl.when(changed)
        .then(pl.lit("symbol_change_not_applied"))
        .otherwise(pl.lit("unknown_security"))
        .alias("check"),
        pl.when(changed)
        .then(
            pl.format(
                "symbol {} changed to {} but the custodian still sends the old one",
                "symbol",
                "new_symbol",
            )
        )
        .otherwise(
            pl.format(
                "security {} (symbol {}) is not in the security master",
                pl.col("security_id").fill_null("?"),
                pl.col("symbol").fill_null("?"),
            )
        )
        .alias("message"),
    )
    return draft(scope.by_account(unknown))


def missing_prices(book: Book) -> pl.DataFrame:
    """Held, known securities with no usable close today from any custodian."""
    priced = book.prices.filter(
        (pl.col("price_date") == book.as_of) & pl.col("close").is_not_null()
    ).select("security_id")
    held = book.securities.select("security_id").join(
        scope.held_securities(book), on="security_id", how="semi"
    )
    missing = held.join(priced, on="security_id", how="anti")
    missing = with_check(
        missing,
        "missing_price",
        pl.format("no close for {} on {}", "security_id", pl.lit(str(book.as_of))),
    )
    return draft(scope.by_security(missing, book))


def unknown_realized_gains(book: Book, windows: pl.DataFrame) -> pl.DataFrame:
    """Taxable sells whose gain no source tells (``sell_gains.sql``): their wash-sale
    window (``windows``: the book's ``wash_sale_windows.sql``) opens as for a loss, and
    operations hears of it. A warning: the account still trades."""
    opened = windows.filter(pl.col("gain_source") == "unknown").select(
        pl.col("source_account_id").alias("account_id"),
        pl.col("source_transaction_id").alias("transaction_id"),
        "identical_group",
        "window_end",
    )
    sells = book.transactions.filter(pl.col("type") == "sell").join(
        opened.unique(), on=["account_id", "transaction_id"], how="inner"
    )
    lot = (
        pl.when(pl.col("lot_id").is_null())
        .then(pl.lit("it names no lot"))
        .otherwise(
            pl.format(
                "lot {} is neither in today's lots file nor in that of the business day "
                "before the sale",
                "lot_id",
            )
        )
    )
    found = with_check(
        sells,
        "unknown_realized_gain",
        pl.format(
            "sell {} of {} {} on {}: no realized gain or cost basis delivered and {}; its "
            "wash-sale window on {} is open as for a loss until {}",
            "transaction_id",
            "quantity",
            "symbol",
            "trade_date",
            lot,
            "identical_group",
            "window_end",
        ),
    ).with_columns(pl.lit("warning").alias("severity"))
    return draft(scope.by_account(found))


def splits_effective_today(book: Book) -> pl.DataFrame:
    """security_id -> ratio (new shares per old share) of splits effective on as_of."""
    return (
        book.corporate_actions.filter(
            (pl.col("action") == "split") & (pl.col("effective_date") == book.as_of)
        )
        .group_by("security_id")
        .agg(pl.col("ratio").first())
    )


def _daily_closes(book: Book) -> pl.DataFrame:
    """One close per security and date over history + today (lowest custodian name wins)."""
    return (
        pl.concat([book.price_history, book.prices])
        .drop_nulls(["security_id", "close"])
        .sort(["security_id", "price_date", "custodian"])
        .unique(["security_id", "price_date"], keep="first", maintain_order=True)
        .select("security_id", "price_date", "close")
    )


def price_moves(book: Book, policy: ValidationPolicy) -> pl.DataFrame:
    """stale_price: the same close on the last ``stale_price_days`` days with a close,
    today included; price_jump: |close / previous - 1| above ``price_jump``
    measured against previous / ratio when a split is effective today."""
    closes = _daily_closes(book).with_columns(
        pl.col("close").shift(1).over("security_id", order_by="price_date").alias("previous")
    )
    closes = closes.with_columns(
        (pl.col("close") != pl.col("previous"))
        .fill_null(True)
        .cum_sum()
        .over("security_id", order_by="price_date")
        .alias("_run")
    )
    closes = closes.with_columns(pl.len().over(["security_id", "_run"]).alias("days_unchanged"))
    today = closes.filter(pl.col("price_date") == book.as_of)
    today = today.join(splits_effective_today(book), on="security_id", how="left")
    # after a split of ratio r the expected close is previous / r
    move = pl.col("close") * pl.col("ratio").fill_null(1.0) / pl.col("previous") - 1
    stale = with_check(
        today.filter(pl.col("days_unchanged") >= policy.stale_price_days),
        "stale_price",
        pl.format("close {} the same on the last {} days", "close", "days_unchanged"),
    )
    jump = with_check(
        today.filter(move.abs() > policy.price_jump),
        "price_jump",
        pl.format("close {} vs previous {}", "close", "previous"),
    )
    return draft(scope.by_security(pl.concat([stale, jump], how="diagonal_relaxed"), book))
