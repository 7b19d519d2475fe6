"""Validation rules on the custodian files as files: missing, foreign, unreadable, late
or cut-off files, and the parse findings scoped to the accounts they touch.

Every validation rule (here, ``security_rules.py``, ``holding_rules.py``) returns draft
findings scoped to the accounts it touches. Thresholds come from ``policy.validation``.
Rules are vectorised Polars over the whole book; none of them raises on bad data, which
is what they are there to find.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.policy import ValidationPolicy
from rebalance_pipeline.validation import scope
from rebalance_pipeline.validation.findings import draft, with_check

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
    """The findings, and for each file-level finding of a prices file that was read one
    more per security the file lists that no trusted file prices today: the untrusted
    file's closes are never used (``security_prices.sql``), so such a security has no
    close to trust and is blocked, its holders suspended, as for any price finding. The
    file's own finding stays, scoped to its custodian's accounts (a file may carry their
    positions too)."""
    read_prices = book.source_files.filter(
        (pl.col("kind") == "prices") & (pl.col("status") == "ok")
    ).select("source_file")
    untrusted = parsed.filter(pl.col("source_row").is_null()).select("source_file")
    trusted_closes = (
        book.prices.join(untrusted, on="source_file", how="anti")
        .filter((pl.col("price_date") == book.as_of) & pl.col("close").is_not_null())
        .select("security_id")
    )
    listed = (
        book.prices.join(read_prices, on="source_file", how="semi")
        .select("source_file", "security_id")
        .drop_nulls()
        .unique()
        .join(trusted_closes, on="security_id", how="anti")
    )
    about_prices = pl.col("source_row").is_null() & pl.col("source_file").is_in(
        read_prices["source_file"].implode()
    )
    per_security = parsed.filter(about_prices).drop("security_id").join(listed, on="source_file")
    return pl.concat([parsed, draft(scope.by_security(per_security, book))])


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
    late = with_check(
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
    other files of the day still list (rows are sorted by account, so the tail is lost):
    the last account those files list comes after the file's last account."""
    last_by_kind = rows.group_by("custodian", "kind").agg(pl.col("account_id").max())
    evidence = pl.concat(
        [
            last_by_kind.filter(pl.col("kind").is_in(sources))
            .group_by("custodian")
            .agg(pl.col("account_id").max())
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
