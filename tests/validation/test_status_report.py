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
    report = status_report(result.findings, result.account_status, list_accounts=True)
    assert report.splitlines() == [
        "Validation status 2026-03-16",
        "accounts: 3, ok: 0, suspended: 3",
        "",
        "findings by cause and file:",
        "  missing_price                error         1 findings      2 accounts  (no file)",
        "  reconciliation_break         error         1 findings      1 accounts  c2/positions.csv",
        "",
        "files:",
        "  none",
        "",
        "suspended accounts:",
        "  A1               missing_price",
        "  A2               missing_price",
        "  A3               reconciliation_break",
    ]


def test_report_of_a_clean_date_says_none(make_book: BookFactory) -> None:
    result = validate_book(make_book(), Policy())
    report = status_report(result.findings, result.account_status, list_accounts=True)
    assert "accounts: 3, ok: 3, suspended: 0" in report
    assert report.count("  none") == 3


def test_report_names_each_untrusted_file_and_why(make_book: BookFactory) -> None:
    book = make_book(
        source_files=lambda f: f.with_columns(
            status=pl.when(pl.col("source_file") == "c2/lots.csv")
            .then(pl.lit("missing"))
            .otherwise("status")
        )
    )
    result = validate_book(book, Policy())
    report = status_report(result.findings, result.account_status).splitlines()
    files = report.index("files:")
    assert report[files + 1] == "  missing_file                 lots file c2/lots.csv is missing"
    assert report[files + 2] == ""
