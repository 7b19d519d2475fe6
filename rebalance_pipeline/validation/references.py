"""References between tables: every row names an account, a household, a security or a
sector that exists, at the custodian the account master says.

- ``unresolvable_restriction`` (error): a restriction naming a security or sector that
  no security of the master matches (resolved as ``restricted_securities.sql`` resolves
  it for the optimizer) restricts nothing, so the accounts it protects would buy what
  the client forbade. They are suspended: never trade against a restriction that
  cannot be enforced.
- ``unknown_account`` (warning): custodian rows, cash requests, holds or restrictions
  naming an account (or household) the account master does not have. They touch no
  account we manage, so nothing is suspended; the finding names the file and row so
  that the master or the feed gets corrected.
- ``account_at_two_custodians`` (error): a custodian's files list an account the master
  places at another custodian. Its holdings and cash would add up from two sources and
  nobody can tell which custodian holds what: the account is suspended.
"""

from __future__ import annotations

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.validation import scope
from rebalance_pipeline.validation.file_rules import account_rows
from rebalance_pipeline.validation.findings import draft


def _firm_file(table: str) -> str:
    return f"firm/{table}.csv"


def _restricted() -> pl.Expr:
    """What a restriction forbids, as its message names it."""
    return (
        pl.when(pl.col("security_id").is_not_null())
        .then(pl.format("security {}", "security_id"))
        .otherwise(pl.format("sector '{}'", "sector"))
    )


def _holder() -> pl.Expr:
    """Whom a restriction protects, as its message names it."""
    return pl.coalesce(
        pl.format("account {}", "account_id"), pl.format("household {}", "household_id")
    )


def unresolvable_restrictions(book: Book, resolved: pl.DataFrame) -> pl.DataFrame:
    """Restrictions of known accounts that resolve to no security in ``resolved`` (the
    book's ``restricted_securities.sql``); one finding per set of accounts protected,
    naming each restriction. A restriction naming neither a security nor a sector breaks
    its contract and is reported there."""
    names_something = pl.col("security_id").is_not_null() | pl.col("sector").is_not_null()
    unresolved = scope.by_restriction(
        book.restrictions.filter(names_something).join(
            resolved.select("restriction_id"), on="restriction_id", how="anti"
        ),
        book,
    ).filter(pl.col("account_ids").list.len() > 0)
    described = unresolved.sort("restriction_id").select(
        "account_ids",
        pl.format(
            "restriction {} ({}) names {}, which no security of the master matches: it "
            "cannot be enforced",
            "restriction_id",
            _holder(),
            _restricted(),
        ).alias("message"),
    )
    found = described.group_by("account_ids", maintain_order=True).agg(
        pl.col("message").str.join("; ")
    )
    return draft(
        found.with_columns(
            pl.lit("unresolvable_restriction").alias("check"),
            pl.lit(_firm_file("restrictions")).alias("source_file"),
        )
    )


def _per_file(rows: pl.DataFrame, *by: str) -> pl.DataFrame:
    """One row per account and file: the first row that names it and how many do."""
    return rows.group_by(*by, "source_file", "account_id").agg(
        pl.col("source_row").min(), pl.len().alias("rows")
    )


def _not_in_master(rows: pl.DataFrame, book: Book) -> pl.DataFrame:
    """Rows naming an account the master does not have (a null one breaks the contract
    of its table and is reported there)."""
    return rows.drop_nulls("account_id").join(book.accounts, on="account_id", how="anti")


def _unknown_in_custodian_files(book: Book) -> pl.DataFrame:
    rows = _not_in_master(account_rows(book), book)
    found = _per_file(rows, "custodian", "kind").with_columns(
        pl.format(
            "account {} is not in the account master: this row and {} more of the {} file "
            "belong to no account we manage",
            "account_id",
            pl.col("rows") - 1,
            "kind",
        ).alias("message")
    )
    return found.drop("account_id")


def _unknown_in_firm_files(book: Book) -> pl.DataFrame:
    """One finding per firm file naming every row of it that refers to no account."""
    unknown_account = pl.format("account {}", "account_id")
    rows = {
        "cash_requests": _not_in_master(book.cash_requests, book).select(
            pl.format("cash request {} ({})", "request_id", unknown_account)
        ),
        "holds": _not_in_master(book.holds, book).select(
            pl.format("hold from {} ({})", "start_date", unknown_account)
        ),
        "restrictions": scope.by_restriction(
            book.restrictions.filter(
                pl.col("account_id").is_not_null() | pl.col("household_id").is_not_null()
            ),
            book,
        )
        .filter(pl.col("account_ids").list.len() == 0)
        .select(pl.format("restriction {} ({})", "restriction_id", _holder())),
    }
    return pl.DataFrame(
        [
            {
                "source_file": _firm_file(table),
                "message": "not in the account master: "
                + ", ".join(sorted(frame.to_series().fill_null("?"))),
            }
            for table, frame in rows.items()
            if not frame.is_empty()
        ],
        schema={"source_file": pl.String, "message": pl.String},
    )


def unknown_accounts(book: Book) -> pl.DataFrame:
    """Rows naming an account the master does not have: warnings, touching no account."""
    found = pl.concat(
        [_unknown_in_custodian_files(book), _unknown_in_firm_files(book)], how="diagonal"
    )
    return draft(found.with_columns(pl.lit("unknown_account").alias("check")))


def accounts_at_two_custodians(book: Book) -> pl.DataFrame:
    """Custodian files listing an account of another custodian, one finding per file and
    account, scoped to that account."""
    home = book.accounts.select("account_id", pl.col("custodian").alias("home"))
    rows = (
        account_rows(book).join(home, on="account_id").filter(pl.col("custodian") != pl.col("home"))
    )
    found = _per_file(rows, "custodian", "home", "kind").with_columns(
        pl.lit("account_at_two_custodians").alias("check"),
        pl.format(
            "account {} is at {} in the account master, yet this row and {} more of {}'s {} "
            "file list it",
            "account_id",
            "home",
            pl.col("rows") - 1,
            "custodian",
            "kind",
        ).alias("message"),
    )
    return draft(scope.by_account(found))
