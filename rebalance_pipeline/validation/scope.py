"""Who a fault touches: the accounts of a custodian, the holders of a security, the
accounts a restriction protects."""

from __future__ import annotations

import polars as pl

from rebalance_pipeline.book import Book

ACCOUNT_LIST = pl.List(pl.String)
NO_HOLDERS = pl.DataFrame(schema={"security_id": pl.String, "account_ids": ACCOUNT_LIST})


def holdings(book: Book) -> pl.LazyFrame:
    """(account_id, security_id) held, repeats left in: positions, or lots where an
    account has none."""
    with_positions = book.positions.lazy().select("account_id").unique()
    from_lots = book.lots.lazy().join(with_positions, on="account_id", how="anti")
    pairs = ["account_id", "security_id"]
    return pl.concat([book.positions.lazy().select(pairs), from_lots.select(pairs)])


def held_securities(book: Book) -> pl.DataFrame:
    """The security_ids anyone holds."""
    return holdings(book).select("security_id").drop_nulls().unique().collect()


def holders(book: Book) -> pl.DataFrame:
    """security_id -> sorted account_ids holding it."""
    return (
        holdings(book)
        .drop_nulls("security_id")
        .unique()
        .group_by("security_id")
        .agg(pl.col("account_id").sort().alias("account_ids"))
        .collect()
    )


def custodian_accounts(book: Book) -> pl.DataFrame:
    """custodian -> sorted account_ids it holds."""
    return book.accounts.group_by("custodian").agg(
        pl.col("account_id").unique().sort().alias("account_ids")
    )


def _join_accounts(df: pl.DataFrame, scopes: pl.DataFrame, on: str) -> pl.DataFrame:
    out = df.drop("account_ids", strict=False).join(scopes, on=on, how="left")
    return out.with_columns(pl.col("account_ids").fill_null(pl.lit([], dtype=ACCOUNT_LIST)))


def by_security(df: pl.DataFrame, book: Book) -> pl.DataFrame:
    """Add account_ids = holders of each row's security_id: the finding is about the
    security itself, which then blocks it for every account (``blocks_security``)."""
    scopes = NO_HOLDERS if df.is_empty() else holders(book)  # no rows: no holders needed
    scoped = _join_accounts(df, scopes, "security_id")
    return scoped.with_columns(pl.lit(True).alias("blocks_security"))


def by_custodian(df: pl.DataFrame, book: Book) -> pl.DataFrame:
    """Add account_ids = every account of each row's custodian."""
    return _join_accounts(df, custodian_accounts(book), "custodian")


def by_account(df: pl.DataFrame) -> pl.DataFrame:
    """Add account_ids = the row's own account_id."""
    return df.with_columns(
        pl.when(pl.col("account_id").is_null())
        .then(pl.lit([], dtype=ACCOUNT_LIST))
        .otherwise(pl.concat_list(pl.col("account_id")))
        .alias("account_ids")
    )


def by_restriction(df: pl.DataFrame, book: Book) -> pl.DataFrame:
    """Add account_ids = the accounts of the master each row's restriction protects: its
    account_id, or every account of its household_id (none when the master has neither)."""
    accounts = book.accounts.select("account_id", pl.col("account_id").alias("_account"))
    households = book.accounts.group_by("household_id").agg(
        pl.col("account_id").alias("_household")
    )
    scoped = (
        df.drop("account_ids", strict=False)
        .join(accounts, on="account_id", how="left")
        .join(households, on="household_id", how="left")
    )
    return scoped.with_columns(
        pl.concat_list(pl.col("_account"), pl.col("_household").fill_null([]))
        .list.drop_nulls()
        .alias("account_ids")
    ).drop("_account", "_household")
