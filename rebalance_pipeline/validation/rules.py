"""Validation rules: each returns draft findings scoped to the accounts it touches.

Thresholds come from ``policy.validation``. Rules are vectorised Polars over the whole
book; none of them raises on bad data, which is what they are there to find.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.policy import ValidationPolicy
from rebalance_pipeline.validation import scope
from rebalance_pipeline.validation.findings import draft

ACCOUNT_TABLES = ("positions", "lots", "cash_balances", "transactions")
FILE_STATUS_CHECKS = {"missing": "missing_file", "unreadable": "unreadable_file"}


def _with_check(df: pl.DataFrame, check: str, message: pl.Expr) -> pl.DataFrame:
    return df.with_columns(pl.lit(check).alias("check"), message.alias("message"))


# --------------------------------------------------------------------------------------
# File level
# --------------------------------------------------------------------------------------
def _source_rows(book: Book) -> pl.DataFrame:
    """Every custodian row with its account (or its security's holders, for prices)."""
    key = ["source_file", "source_row"]
    account_rows = pl.concat(
        [
            scope.by_account(getattr(book, name).select(*key, "account_id"))
            for name in ACCOUNT_TABLES
        ]
    ).drop("account_id")
    price_rows = scope.by_security(book.prices.select(*key, "security_id"), book).drop(
        "security_id"
    )
    return (
        pl.concat([account_rows, price_rows])
        .group_by(key)
        .agg(
            pl.col("account_ids")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .unique()
            .sort()
        )
    )


def scoped_parse_findings(book: Book) -> pl.DataFrame:
    """Ingest's own findings, each scoped: to the account of the row it names, else (file
    level faults such as wrong encoding or a missing file) to all the custodian's accounts."""
    parsed = draft(book.parse_findings)
    unscoped = parsed.filter(pl.col("account_ids").list.len() == 0).with_row_index("_n")
    by_row = unscoped.drop("account_ids").join(
        _source_rows(book), on=["source_file", "source_row"], how="inner"
    )
    by_file = scope.by_custodian(unscoped.join(by_row.select("_n"), on="_n", how="anti"), book)
    return pl.concat(
        [
            parsed.filter(pl.col("account_ids").list.len() > 0),
            draft(by_row.drop("_n")),
            draft(by_file.drop("_n")),
        ]
    )


def file_status(book: Book) -> pl.DataFrame:
    """Missing or unreadable files that ingest did not already report."""
    files = book.source_files.filter(pl.col("status").is_in(list(FILE_STATUS_CHECKS)))
    files = files.with_columns(pl.col("status").replace_strict(FILE_STATUS_CHECKS).alias("check"))
    reported = book.parse_findings.select("check", "source_file")
    files = files.join(reported, on=["check", "source_file"], how="anti")
    files = files.with_columns(
        pl.format(
            "{} file {} is {}", pl.col("kind"), pl.col("source_file"), pl.col("status")
        ).alias("message")
    )
    return draft(scope.by_custodian(files, book))


def late_files(book: Book, policy: ValidationPolicy) -> pl.DataFrame:
    """Files that arrived after the cutoff (UTC) on the calendar day after the file date."""
    cutoff_offset = dt.timedelta(
        days=1, hours=policy.late_file_cutoff.hour, minutes=policy.late_file_cutoff.minute
    )
    deadline = pl.col("file_date").cast(pl.Datetime("us", "UTC")) + cutoff_offset
    late = book.source_files.filter(pl.col("arrived_at") > deadline)
    late = _with_check(
        late,
        "late_file",
        pl.format(
            "{} file arrived {} after cutoff {}", pl.col("kind"), pl.col("arrived_at"), deadline
        ),
    )
    return draft(scope.by_custodian(late, book))


def _last_account_read(book: Book) -> pl.DataFrame:
    """source_file -> account_id of the last detail row read from it."""
    rows = pl.concat(
        [
            getattr(book, name).select("source_file", "source_row", "account_id")
            for name in ACCOUNT_TABLES
        ]
    )
    return (
        rows.drop_nulls("account_id")
        .sort("source_row")
        .group_by("source_file")
        .agg(pl.col("account_id").last().alias("last_account_id"))
    )


def incomplete_files(book: Book) -> pl.DataFrame:
    """truncated_file (trailer count != rows read) or, where the counts agree,
    checksum_mismatch. Scope: the custodian's accounts from the last account read on
    (rows are sorted by account), or all of them when no account row was read."""
    files = book.source_files.filter(pl.col("status") == "ok")
    truncated = pl.col("trailer_rows").is_not_null() & (
        pl.col("trailer_rows") != pl.col("detail_rows")
    )
    checksum_off = pl.col("trailer_checksum").is_not_null() & (
        pl.col("trailer_checksum") != pl.col("computed_checksum").fill_null("")
    )
    files = files.filter(truncated | checksum_off).with_columns(
        pl.when(truncated)
        .then(pl.lit("truncated_file"))
        .otherwise(pl.lit("checksum_mismatch"))
        .alias("check"),
        pl.when(truncated)
        .then(pl.format("trailer claims {} rows, {} read", "trailer_rows", "detail_rows"))
        .otherwise(
            pl.format("trailer checksum {} != computed {}", "trailer_checksum", "computed_checksum")
        )
        .alias("message"),
    )
    files = files.join(_last_account_read(book), on="source_file", how="left")
    accounts = book.accounts.select("custodian", "account_id")
    scoped = (
        files.select("custodian", "source_file", "last_account_id")
        .join(accounts, on="custodian", how="inner")
        .filter(
            pl.col("last_account_id").is_null()
            | (pl.col("account_id") >= pl.col("last_account_id"))
        )
        .group_by("source_file")
        .agg(pl.col("account_id").sort().alias("account_ids"))
    )
    files = files.join(scoped, on="source_file", how="left")
    return draft(files)


# --------------------------------------------------------------------------------------
# Securities and prices
# --------------------------------------------------------------------------------------
def _recent_symbol_changes(book: Book, policy: ValidationPolicy) -> pl.DataFrame:
    # lookback in business days, widened to calendar days (5 business days per 7)
    earliest = book.as_of - dt.timedelta(days=-(-policy.lookback_business_days * 7 // 5))
    return (
        book.corporate_actions.filter(
            (pl.col("action") == "symbol_change")
            & pl.col("effective_date").is_between(earliest, book.as_of)
        )
        .select(pl.col("symbol"), pl.col("new_symbol"))
        .unique("symbol")
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
        scope.holders(book), on="security_id", how="inner"
    )
    missing = held.join(priced, on="security_id", how="anti")
    missing = _with_check(
        missing,
        "missing_price",
        pl.format("no close for {} on {}", "security_id", pl.lit(str(book.as_of))),
    )
    return draft(missing)


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
    """stale_price: today's close unchanged over the last ``stale_price_days`` moves (so
    that many + 1 equal closes); price_jump: |close / previous - 1| above ``price_jump``
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
    closes = closes.with_columns(
        (pl.len().over(["security_id", "_run"]) - 1).alias("unchanged_moves")
    )
    today = closes.filter(pl.col("price_date") == book.as_of)
    splits = (
        book.corporate_actions.filter(
            (pl.col("action") == "split") & (pl.col("effective_date") == book.as_of)
        )
        .group_by("security_id")
        .agg(pl.col("ratio").first())
    )
    today = today.join(splits, on="security_id", how="left")
    # after a split of ratio r the expected close is previous / r
    move = pl.col("close") * pl.col("ratio").fill_null(1.0) / pl.col("previous") - 1
    stale = _with_check(
        today.filter(pl.col("unchanged_moves") >= policy.stale_price_days),
        "stale_price",
        pl.format("close {} unchanged for {} days", "close", "unchanged_moves"),
    )
    jump = _with_check(
        today.filter(move.abs() > policy.price_jump),
        "price_jump",
        pl.format("close {} vs previous {}", "close", "previous"),
    )
    return draft(scope.by_security(pl.concat([stale, jump], how="diagonal_relaxed"), book))


# --------------------------------------------------------------------------------------
# Positions against lots
# --------------------------------------------------------------------------------------
def reconciliation(book: Book, policy: ValidationPolicy) -> pl.DataFrame:
    """Per account x security, custodian position vs the sum of its lots (accounts with no
    positions are their lots). A split effective today that explains the gap
    (lots x ratio = position) is split_not_applied."""
    holding_key = pl.coalesce(pl.col("security_id"), pl.format("symbol:{}", "symbol")).alias(
        "holding"
    )
    positions = book.positions.group_by("account_id", holding_key).agg(
        pl.col("quantity").sum().alias("position"),
        pl.col("security_id").first(),
        pl.col("custodian").first(),
        pl.col("source_file").first(),
        pl.col("source_row").min(),
    )
    lots = (
        book.lots.join(book.positions.select("account_id").unique(), on="account_id", how="semi")
        .group_by("account_id", holding_key)
        .agg(
            pl.col("quantity").sum().alias("lot_total"),
            pl.col("security_id").first().alias("lot_security_id"),
            pl.col("custodian").first().alias("lot_custodian"),
        )
    )
    both = positions.join(
        lots, on=["account_id", "holding"], how="full", coalesce=True
    ).with_columns(
        pl.col("position").fill_null(0.0),
        pl.col("lot_total").fill_null(0.0),
        pl.coalesce("security_id", "lot_security_id").alias("security_id"),
        pl.coalesce("custodian", "lot_custodian").alias("custodian"),
    )
    tol = policy.reconciliation_tolerance
    breaks = both.filter((pl.col("position") - pl.col("lot_total")).abs() > tol)
    splits = (
        book.corporate_actions.filter(
            (pl.col("action") == "split") & (pl.col("effective_date") == book.as_of)
        )
        .group_by("security_id")
        .agg(pl.col("ratio").first())
    )
    breaks = breaks.join(splits, on="security_id", how="left")
    split_gap = (
        (pl.col("lot_total") * pl.col("ratio") - pl.col("position")).abs() <= tol
    ).fill_null(False)
    breaks = breaks.with_columns(
        pl.when(split_gap)
        .then(pl.lit("split_not_applied"))
        .otherwise(pl.lit("reconciliation_break"))
        .alias("check"),
        pl.format("position {} vs lots {} in {}", "position", "lot_total", "holding").alias(
            "message"
        ),
    )
    return draft(scope.by_account(breaks))
