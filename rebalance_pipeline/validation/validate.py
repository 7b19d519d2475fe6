"""Step 1 of the daily workflow: find bad data, suspend the accounts it touches, and
queue for manual handling the suspended accounts that owe a high-priority withdrawal."""

from __future__ import annotations

import dataclasses

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation import rules
from rebalance_pipeline.validation.contracts import contract_findings
from rebalance_pipeline.validation.findings import finalize
from rebalance_pipeline.validation.status import account_status, manual_queue


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    findings: pl.DataFrame  # tables.FINDINGS
    account_status: pl.DataFrame  # tables.ACCOUNT_STATUS, one row per account
    manual_queue: pl.DataFrame  # tables.MANUAL_QUEUE


def _contracts_not_explained_by_parsing(contracts: pl.DataFrame, book: Book) -> pl.DataFrame:
    """A row ingest could not parse (e.g. a malformed number left null) already has its
    parse finding; the contract failure it causes is not reported twice."""
    parsed_rows = book.parse_findings.select("source_file", "source_row").drop_nulls()
    return contracts.join(
        parsed_rows, on=["source_file", "source_row"], how="anti", nulls_equal=False
    )


def collect_findings(book: Book, policy: Policy) -> pl.DataFrame:
    """Every rule's findings for the book, with stable ids, sorted."""
    checks = policy.validation
    drafts = [
        rules.scoped_parse_findings(book),
        rules.file_status(book),
        rules.late_files(book, checks),
        rules.incomplete_files(book),
        rules.unknown_securities(book, checks),
        rules.missing_prices(book),
        rules.price_moves(book, checks),
        rules.reconciliation(book, checks),
        _contracts_not_explained_by_parsing(contract_findings(book), book),
    ]
    return finalize(pl.concat(drafts), book.as_of)


def validate_book(book: Book, policy: Policy) -> ValidationResult:
    findings = collect_findings(book, policy)
    status = account_status(findings, book.accounts)
    queue = manual_queue(status, book.cash_requests, book.cash_balances, book.as_of)
    return ValidationResult(findings=findings, account_status=status, manual_queue=queue)
