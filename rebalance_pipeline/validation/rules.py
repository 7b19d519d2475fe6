"""Validation rules: each returns draft findings scoped to the accounts it touches.

Thresholds come from ``policy.validation``. Rules are vectorised Polars over the whole
book; none of them raises on bad data, which is what they are there to find.
"""

from __future__ import annotations

import datetime as dt
import functools

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.features import SQL_DIR, SqlModel, load_model, run_models
from rebalance_pipeline.policy import Policy, ValidationPolicy
from rebalance_pipeline.validation import scope
from rebalance_pipeline.validation.findings import draft

# custodian file kind -> the book table of its rows, for the files whose rows name accounts
KIND_TABLES = {
    "positions": "positions",
    "lots": "lots",
    "cash": "cash_balances",
    "transactions": "transactions",
}
ACCOUNT_TABLES = tuple(KIND_TABLES.values())
FILE_STATUS_CHECKS = {
    "missing": "missing_file",
    "foreign": "foreign_file",
    "unreadable": "unreadable_file",
}


def _with_check(df: pl.DataFrame, check: str, message: pl.Expr) -> pl.DataFrame:
    return df.with_columns(pl.lit(check).alias("check"), message.alias("message"))


# --------------------------------------------------------------------------------------
# File level
# --------------------------------------------------------------------------------------
def _rows_named(book: Book, wanted: pl.DataFrame) -> pl.DataFrame:
    """(source_file, source_row) of ``wanted`` -> account_ids of that custodian row: its
    account, or for a price row the holders of its security (whose price it puts in
    doubt: ``blocks_security``)."""
    key = ["source_file", "source_row"]
    account_rows = pl.concat(
        [
            getattr(book, name).select(*key, "account_id").join(wanted, on=key, how="semi")
            for name in ACCOUNT_TABLES
        ]
    )
    price_rows = book.prices.select(*key, "security_id").join(wanted, on=key, how="semi")
    return (
        pl.concat(
            [
                scope.by_account(account_rows)
                .drop("account_id")
                .with_columns(pl.lit(False).alias("blocks_security")),
                scope.by_security(price_rows, book).drop("security_id"),
            ]
        )
        .group_by(key)
        .agg(
            pl.col("account_ids")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .unique()
            .sort(),
            pl.col("blocks_security").any(),
        )
    )


def _by_listed_security(parsed: pl.DataFrame, book: Book) -> pl.DataFrame:
    """File-level findings of prices files that were read, one per security the file
    lists: its closes may value any custodian's accounts, so each security is blocked and
    its holders are suspended, as for any price finding. Other findings unchanged."""
    read_prices = book.source_files.filter(
        (pl.col("kind") == "prices") & (pl.col("status") == "ok")
    ).select("source_file")
    listed = (
        book.prices.join(read_prices, on="source_file", how="semi")
        .select("source_file", "security_id")
        .drop_nulls()
        .unique()
    )
    about_prices = pl.col("source_row").is_null() & pl.col("source_file").is_in(
        read_prices["source_file"].implode()
    )
    per_security = parsed.filter(about_prices).drop("security_id").join(listed, on="source_file")
    return pl.concat([parsed.filter(~about_prices), draft(scope.by_security(per_security, book))])


def scoped_parse_findings(book: Book) -> pl.DataFrame:
    """Ingest's own findings, each scoped: to the account of the row it names, else (file
    level faults such as wrong encoding or a missing file) to all the custodian's accounts,
    or for a prices file that was read to each security it lists."""
    parsed = _by_listed_security(draft(book.parse_findings), book)
    unscoped = parsed.filter(pl.col("account_ids").list.len() == 0).with_row_index("_n")
    rows = _rows_named(book, unscoped.select("source_file", "source_row").drop_nulls())
    by_row = unscoped.drop("account_ids", "blocks_security").join(
        rows, on=["source_file", "source_row"], how="inner"
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
    """Missing or unreadable files that ingest did not already report (a file it found
    in the wrong encoding is unreadable for that reason: one finding, not two)."""
    files = book.source_files.filter(pl.col("status").is_in(list(FILE_STATUS_CHECKS)))
    files = files.with_columns(pl.col("status").replace_strict(FILE_STATUS_CHECKS).alias("check"))
    reported = book.parse_findings.filter(pl.col("source_row").is_null()).select("source_file")
    files = files.join(reported, on="source_file", how="anti")
    files = files.with_columns(
        pl.format(
            "{} file {} is {}", pl.col("kind"), pl.col("source_file"), pl.col("status")
        ).alias("message")
    )
    return draft(scope.by_custodian(files, book))


def file_deadline(policy: ValidationPolicy) -> pl.Expr:
    """The late-file cutoff (UTC) on the calendar day after each file's date."""
    cutoff = policy.late_file_cutoff
    offset = dt.timedelta(days=1, hours=cutoff.hour, minutes=cutoff.minute)
    return pl.col("file_date").cast(pl.Datetime("us", "UTC")) + offset


def late_files(book: Book, policy: ValidationPolicy) -> pl.DataFrame:
    """Files that arrived after the cutoff (UTC) on the calendar day after the file date."""
    deadline = file_deadline(policy)
    late = book.source_files.filter(pl.col("arrived_at") > deadline)
    late = _with_check(
        late,
        "late_file",
        pl.format("{} file {} arrived {}, after {}", "kind", "source_file", "arrived_at", deadline),
    )
    return draft(scope.by_custodian(late, book))


# files sorted by account that list every account holding something (cash: every account)
CUT_OFF_EVIDENCE = {
    "positions": ("positions", "lots"),
    "lots": ("positions", "lots"),
    "cash": ("positions", "lots", "cash"),
}


def account_rows(book: Book) -> pl.DataFrame:
    """(kind, custodian, source_file, source_row, account_id) of the account files."""
    return pl.concat(
        [
            getattr(book, table)
            .select("custodian", "source_file", "source_row", "account_id")
            .with_columns(pl.lit(kind).alias("kind"))
            for kind, table in KIND_TABLES.items()
        ]
    ).drop_nulls("account_id")


def _last_account_read(rows: pl.DataFrame) -> pl.DataFrame:
    """source_file -> account_id of the last detail row read from it."""
    return rows.group_by("source_file").agg(
        pl.col("account_id").get(pl.col("source_row").arg_max()).alias("last_account_id")
    )


def _cut_off_files(book: Book, rows: pl.DataFrame, last_read: pl.DataFrame) -> pl.DataFrame:
    """source_file of trailer-less account files that end before accounts the custodian's
    other files of the day still list (rows are sorted by account, so the tail is lost)."""
    evidence = pl.concat(
        [
            rows.filter(pl.col("kind").is_in(sources))
            .select("custodian", "account_id")
            .unique()
            .with_columns(pl.lit(kind).alias("kind"))
            for kind, sources in CUT_OFF_EVIDENCE.items()
        ]
    )
    files = book.source_files.filter(
        (pl.col("status") == "ok")
        & pl.col("trailer_rows").is_null()
        & pl.col("kind").is_in(list(CUT_OFF_EVIDENCE))
    ).join(last_read, on="source_file", how="left")
    return (
        files.join(evidence, on=["custodian", "kind"], how="inner")
        .filter(pl.col("account_id") > pl.col("last_account_id").fill_null(""))
        .select("source_file")
        .unique()
    )


def incomplete_files(book: Book) -> pl.DataFrame:
    """truncated_file for a trailer-less (alder) account file that stops before accounts
    the custodian's other files list. Scope: the custodian's accounts from the last
    account read on (rows are sorted by account), or all of them when no account row was
    read. A file with a trailer is checked whole by ingest (count, checksum, shape)."""
    rows = account_rows(book)
    last_read = _last_account_read(rows)
    judged = book.parse_findings.filter(pl.col("source_row").is_null()).select("source_file")
    files = (
        _cut_off_files(book, rows, last_read)
        .join(judged, on="source_file", how="anti")
        .join(book.source_files, on="source_file", how="left")
        .with_columns(
            pl.lit("truncated_file").alias("check"),
            pl.format(
                "{} rows read from {}; accounts after the last one are missing: truncated file",
                "detail_rows",
                "source_file",
            ).alias("message"),
        )
        .join(last_read, on="source_file", how="left")
    )
    accounts = book.accounts.select("custodian", "account_id")
    scoped = (
        files.select("custodian", "source_file", "last_account_id")
        .join(accounts, on="custodian", how="inner")
        .filter(pl.col("account_id") >= pl.col("last_account_id").fill_null(""))
        .group_by("source_file")
        .agg(pl.col("account_id").sort().alias("account_ids"))
    )
    return draft(files.join(scoped, on="source_file", how="left"))


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
        scope.holders(book).select("security_id"), on="security_id", how="semi"
    )
    missing = held.join(priced, on="security_id", how="anti")
    missing = _with_check(
        missing,
        "missing_price",
        pl.format("no close for {} on {}", "security_id", pl.lit(str(book.as_of))),
    )
    return draft(scope.by_security(missing, book))


@functools.cache
def _wash_sale_models() -> tuple[SqlModel, ...]:
    """The models that decide which sells open a window (loaded once: reading a model's
    column lineage takes a good part of a second)."""
    return tuple(
        load_model(SQL_DIR / f"{name}.sql") for name in ("sell_gains", "wash_sale_windows")
    )


def unknown_realized_gains(book: Book, policy: Policy) -> pl.DataFrame:
    """Taxable sells whose gain no source tells (``sell_gains.sql``): their wash-sale
    window opens as for a loss (``wash_sale_windows.sql``, run here on the same book), and
    operations hears of it. A warning: the account still trades."""
    outputs = run_models(book.tables(), book.as_of, policy, _wash_sale_models())
    windows = outputs["wash_sale_windows"]
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
    found = _with_check(
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
    stale = _with_check(
        today.filter(pl.col("days_unchanged") >= policy.stale_price_days),
        "stale_price",
        pl.format("close {} the same on the last {} days", "close", "days_unchanged"),
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
def reconciliation(
    book: Book, policy: ValidationPolicy, incomplete: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Per account x security, custodian position vs the sum of its lots (accounts with no
    positions are their lots). A split effective today that explains the gap
    (lots x ratio = position) is split_not_applied.

    Faults with a finding of their own are not reported again as a break: a repeated
    row counts once, a holding with a null quantity (a parse fault) is skipped, and so
    are the ``incomplete`` accounts (account_id column) whose holdings files were not
    all read."""
    # a holding is its security, or its symbol where the security is unknown
    unknown_symbol = pl.when(pl.col("security_id").is_null()).then(pl.col("symbol"))
    holding = ["account_id", "security_id", unknown_symbol.alias("unknown_symbol")]
    positions = (
        book.positions.unique(["account_id", "security_id", "symbol"], keep="first")
        .group_by(holding)
        .agg(
            pl.col("quantity").sum().alias("position"),
            pl.col("quantity").null_count().alias("position_nulls"),
            pl.col("custodian").first(),
            pl.col("source_file").first(),
            pl.col("source_row").min(),
        )
    )
    lots = (
        book.lots.join(book.positions.select("account_id").unique(), on="account_id", how="semi")
        .unique(["account_id", "lot_id"], keep="first")
        .group_by(holding)
        .agg(
            pl.col("quantity").sum().alias("lot_total"),
            pl.col("quantity").null_count().alias("lot_nulls"),
            pl.col("custodian").first().alias("lot_custodian"),
        )
    )
    both = positions.join(
        lots,
        on=["account_id", "security_id", "unknown_symbol"],
        how="full",
        coalesce=True,
        nulls_equal=True,
    )
    if incomplete is not None:
        both = both.join(incomplete, on="account_id", how="anti")
    both = both.filter(
        (pl.col("position_nulls").fill_null(0) + pl.col("lot_nulls").fill_null(0)) == 0
    ).with_columns(
        pl.col("position").fill_null(0.0),
        pl.col("lot_total").fill_null(0.0),
        pl.coalesce("custodian", "lot_custodian").alias("custodian"),
    )
    tol = policy.reconciliation_tolerance
    breaks = both.filter((pl.col("position") - pl.col("lot_total")).abs() > tol)
    breaks = breaks.join(splits_effective_today(book), on="security_id", how="left")
    split_gap = (pl.col("lot_total") * pl.col("ratio") - pl.col("position")).abs() <= tol
    breaks = breaks.with_columns(
        pl.when(split_gap.fill_null(False))
        .then(pl.lit("split_not_applied"))
        .otherwise(pl.lit("reconciliation_break"))
        .alias("check"),
        pl.format(
            "position {} vs lots {} in {}",
            "position",
            "lot_total",
            pl.coalesce("security_id", pl.format("symbol {}", "unknown_symbol")),
        ).alias("message"),
    )
    return draft(scope.by_account(breaks))


# --------------------------------------------------------------------------------------
# Firm inputs the optimizer builds on
# --------------------------------------------------------------------------------------
MODEL_WEIGHT_TOLERANCE = 1e-6


def invalid_models(book: Book) -> pl.DataFrame:
    """An account's model that does not exist, has no targets, targets weights that do not
    sum to one, or targets a security the master does not know: optimizing to it would
    liquidate or mis-invest every account on it."""
    targets = book.model_targets.group_by("model_id").agg(
        pl.col("target_weight").sum().alias("weight"),
        pl.col("security_id")
        .filter(~pl.col("security_id").is_in(book.securities["security_id"].implode()))
        .alias("unknown"),
    )
    accounts = book.accounts.group_by("model_id").agg(pl.col("account_id").alias("account_ids"))
    models = accounts.join(targets, on="model_id", how="left")
    problem = (
        pl.when(pl.col("weight").is_null())
        .then(pl.format("model {} has no targets", pl.col("model_id")))
        .when((pl.col("weight") - 1.0).abs() > MODEL_WEIGHT_TOLERANCE)
        .then(pl.format("model {} targets sum to {}, not 1", pl.col("model_id"), pl.col("weight")))
        .when(pl.col("unknown").list.len() > 0)
        .then(
            pl.format(
                "model {} targets securities not in the master: {}",
                pl.col("model_id"),
                pl.col("unknown").list.join(", "),
            )
        )
    )
    found = models.with_columns(problem.alias("message")).filter(pl.col("message").is_not_null())
    return draft(found.with_columns(pl.lit("invalid_model").alias("check")))
