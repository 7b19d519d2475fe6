"""The text of ``rebalance status --date D``."""

from __future__ import annotations

import polars as pl
from conftest import BookFactory

from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation import status_report, validate_book


def test_report_counts_checks_and_lists_suspended_accounts(make_book: BookFactory) -> None:
    book = make_book(
        prices=lambda p: p.filter(pl.col("security_id") != "SEC-A"),
        positions=lambda pos: pos.with_columns(
            quantity=pl.when(pl.col("account_id") == "A3").then(1.0).otherwise("quantity")
        ),
    )
    result = validate_book(book, Policy())
    report = status_report(result.findings, result.account_status)
    assert report.splitlines() == [
        "Validation status 2026-03-16",
        "accounts: 3, ok: 0, suspended: 3",
        "",
        "findings by check:",
        "  missing_price                error         1 findings      2 accounts",
        "  reconciliation_break         error         1 findings      1 accounts",
        "",
        "suspended accounts:",
        "  A1               missing_price",
        "  A2               missing_price",
        "  A3               reconciliation_break",
    ]


def test_report_of_a_clean_date_says_none(make_book: BookFactory) -> None:
    result = validate_book(make_book(), Policy())
    report = status_report(result.findings, result.account_status)
    assert "accounts: 3, ok: 3, suspended: 0" in report
    assert report.count("  none") == 2
