"""From findings to decisions: which accounts are suspended, which go to the manual queue."""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t


def account_status(findings: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """One row per account: suspended when an error finding touches it, else ok."""
    touched = (
        findings.filter(pl.col("severity") == "error")
        .select("check", "finding_id", pl.col("account_ids").alias("account_id"))
        .explode("account_id")
        .group_by("account_id")
        .agg(
            pl.col("check").unique().sort().alias("reason_codes"),
            pl.col("finding_id").unique().sort().alias("finding_ids"),
        )
    )
    status = (
        accounts.select("account_id")
        .unique()
        .join(touched, on="account_id", how="left")
        .with_columns(
            pl.col("reason_codes").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("finding_ids").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .with_columns(
            pl.when(pl.col("reason_codes").list.len() > 0)
            .then(pl.lit("suspended"))
            .otherwise(pl.lit("ok"))
            .alias("status")
        )
    )
    return t.conform(status, t.ACCOUNT_STATUS).sort("account_id")


def manual_queue(
    status: pl.DataFrame,
    cash_requests: pl.DataFrame,
    cash_balances: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """Suspended accounts with a high-priority cash request due on or before ``as_of``:
    a person must raise the cash by hand. Amounts of several due requests add up."""
    due = (
        cash_requests.filter((pl.col("priority") == "high") & (pl.col("due_date") <= as_of))
        .group_by("account_id")
        .agg(
            pl.col("amount").sum().alias("requested_amount"),
            pl.col("due_date").min().alias("due_date"),
        )
    )
    cash = cash_balances.group_by("account_id").agg(pl.col("cash").sum().alias("cash_available"))
    queue = (
        status.filter(pl.col("status") == "suspended")
        .join(due, on="account_id", how="inner")
        .join(cash, on="account_id", how="left")
    )
    return t.conform(queue, t.MANUAL_QUEUE).sort("account_id")


FINDING_GROUPS = pl.Schema(
    {
        "check": t.Utf8,
        "severity": t.Utf8,
        "source_file": t.Utf8,  # relative to the book; null when no file is at fault
        "findings": t.I64,
        "accounts": t.I64,  # distinct accounts the group's findings touch
        "account_ids": pl.List(t.Utf8),  # those accounts, sorted
    }
)


def findings_by_cause_and_file(findings: pl.DataFrame) -> pl.DataFrame:
    """FINDING_GROUPS: one row per check (the cause) and source file, with the accounts
    its findings touch. A whole file not trusted is one row whatever its accounts; a file
    with many bad rows is one row per kind of fault. Errors first, then the groups that
    touch most accounts."""
    groups = findings.group_by("check", "severity", "source_file").agg(
        pl.len().alias("findings"),
        pl.col("account_ids")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .drop_nulls()
        .unique()
        .sort()
        .alias("account_ids"),
    )
    counted = groups.with_columns(pl.col("account_ids").list.len().alias("accounts"))
    ordered = counted.sort(
        ["severity", "accounts", "check", "source_file"],
        descending=[False, True, False, False],
        nulls_last=True,
    )
    return t.conform(ordered, FINDING_GROUPS)


def status_report(
    findings: pl.DataFrame, account_status: pl.DataFrame, list_accounts: bool = False
) -> str:
    """The text ``rebalance status --date D`` prints: findings by cause and file (one line
    each, with the accounts they touch), the files not trusted whole (each with its check
    and what is wrong with it), then how many accounts are suspended; ``list_accounts``
    lists every suspended account with its reasons."""
    dates = findings.get_column("trade_date").drop_nulls().unique().sort()
    title = f"Validation status {dates[0]}" if len(dates) else "Validation status"
    suspended = account_status.filter(pl.col("status") == "suspended").sort("account_id")
    lines = [
        title,
        f"accounts: {account_status.height}, ok: {account_status.height - suspended.height}, "
        f"suspended: {suspended.height}",
        "",
        "findings by cause and file:",
    ]
    lines += [
        f"  {row['check']:<28} {row['severity']:<8} {row['findings']:>6} findings "
        f"{row['accounts']:>6} accounts  {row['source_file'] or '(no file)'}"
        for row in findings_by_cause_and_file(findings).iter_rows(named=True)
    ] or ["  none"]
    untrusted = (
        findings.filter(pl.col("source_row").is_null() & pl.col("source_file").is_not_null())
        .unique(["source_file", "check", "message"])  # a prices file: one per security
        .sort("source_file", "check")
    )
    lines += ["", "files:"]
    lines += [
        f"  {row['check']:<28} {row['message']}" for row in untrusted.iter_rows(named=True)
    ] or ["  none"]
    if not list_accounts:
        listing = " (list them with --accounts)" if suspended.height else ""
        return "\n".join([*lines, "", f"suspended accounts: {suspended.height}{listing}"]) + "\n"
    lines += ["", "suspended accounts:"]
    lines += [
        f"  {row['account_id']:<16} {', '.join(row['reason_codes'])}"
        for row in suspended.iter_rows(named=True)
    ] or ["  none"]
    return "\n".join(lines) + "\n"
