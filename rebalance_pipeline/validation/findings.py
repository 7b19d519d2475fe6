"""Findings: one row per data fault, scoped to the accounts it touches.

Every rule builds a frame of *draft* findings (the FINDINGS columns without
``finding_id`` and ``trade_date``); :func:`finalize` adds the stable id, the date and
the severity, and sorts, so that the same book always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import polars as pl

from rebalance_pipeline import tables as t

DRAFT = pl.Schema({k: v for k, v in t.FINDINGS.items() if k not in ("finding_id", "trade_date")})

# columns that identify a finding; the finding id is a hash of them
IDENTITY = ("trade_date", "check", "custodian", "source_file", "source_row", "security_id")

SORT_KEY = ["check", "custodian", "source_file", "source_row", "security_id", "finding_id"]


def draft(df: pl.DataFrame) -> pl.DataFrame:
    """Conform a rule's output to the draft schema (account ids sorted and unique)."""
    out = t.conform(df, DRAFT)
    return out.with_columns(
        pl.col("account_ids")
        .fill_null(pl.lit([], dtype=pl.List(pl.String)))
        .list.unique()
        .list.drop_nulls()
        .list.sort(),
        pl.col("blocks_security").fill_null(False),
    )


def with_check(df: pl.DataFrame, check: str, message: pl.Expr) -> pl.DataFrame:
    """``df`` as findings of ``check`` with ``message``."""
    return df.with_columns(pl.lit(check).alias("check"), message.alias("message"))


def empty_draft() -> pl.DataFrame:
    return t.empty(DRAFT)


def _short_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def finalize(drafts: pl.DataFrame, trade_date: dt.date) -> pl.DataFrame:
    """Add date, stable ids and severity; drop exact repeats; sort.

    A finding that touches no account cannot suspend anything and is kept as a warning.
    """
    df = draft(drafts).with_columns(pl.lit(trade_date, dtype=pl.Date).alias("trade_date"))
    key = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("") for c in IDENTITY]
        + [pl.col("account_ids").list.join(",")],
        separator="|",
    )
    df = df.with_columns(
        key.map_elements(_short_hash, return_dtype=pl.String).alias("finding_id"),
        pl.when(pl.col("account_ids").list.len() == 0)
        .then(pl.lit("warning"))
        .otherwise(pl.col("severity").fill_null("error"))
        .alias("severity"),
    )
    df = df.unique(subset=["finding_id"], keep="first", maintain_order=True)
    return t.conform(df, t.FINDINGS).sort(SORT_KEY, nulls_last=True)
