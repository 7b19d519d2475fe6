"""Step 1 of the daily workflow: find bad data, suspend the accounts it touches, and
queue for manual handling the suspended accounts that owe a high-priority withdrawal."""

from __future__ import annotations

import dataclasses

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.features import SQL_DIR, SqlModel, load_model, run_models
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation import file_rules, holding_rules, references, security_rules
from rebalance_pipeline.validation.contracts import contract_findings
from rebalance_pipeline.validation.findings import finalize
from rebalance_pipeline.validation.status import account_status, manual_queue


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    findings: pl.DataFrame  # tables.FINDINGS
    account_status: pl.DataFrame  # tables.ACCOUNT_STATUS, one row per account
    manual_queue: pl.DataFrame  # tables.MANUAL_QUEUE
    # outputs of the SQL models validation runs (``BOOK_MODELS``): they read the canonical
    # tables alone, so the features stage of the same book takes them as they are
    book_models: dict[str, pl.DataFrame] = dataclasses.field(default_factory=dict)


# the feature models whose answers validation checks: which restrictions resolve, which
# sells open a wash-sale window
BOOK_MODELS = ("restricted_securities", "sell_gains", "wash_sale_windows")


def validation_models() -> tuple[SqlModel, ...]:
    """The models as the definitions loaded them (``load_model`` parses a file once)."""
    return tuple(load_model(SQL_DIR / f"{name}.sql") for name in BOOK_MODELS)


def _contracts_not_explained_by_parsing(contracts: pl.DataFrame, book: Book) -> pl.DataFrame:
    """A row ingest could not parse (e.g. a malformed number left null) already has its
    parse finding, and a row of a file ingest did not trust whole (stale, failing its
    checksum) that file's finding: the contract failure it causes is not reported twice."""
    findings = book.parse_findings
    parsed_rows = findings.select("source_file", "source_row").drop_nulls()
    untrusted = findings.filter(pl.col("source_row").is_null()).select("source_file")
    return contracts.join(
        parsed_rows, on=["source_file", "source_row"], how="anti", nulls_equal=False
    ).join(untrusted, on="source_file", how="anti")


def _accounts_with_incomplete_holdings(file_findings: pl.DataFrame, book: Book) -> pl.DataFrame:
    """Accounts a file-level fault in a positions or lots file touches: their holdings
    were not all read, so reconciling them would only repeat that fault."""
    holding_files = book.source_files.filter(pl.col("kind").is_in(["positions", "lots"]))
    return (
        file_findings.join(holding_files.select("source_file"), on="source_file", how="semi")
        .select(pl.col("account_ids").alias("account_id"))
        .explode("account_id")
        .drop_nulls()
        .unique()
    )


def _not_at_cut(row_findings: pl.DataFrame, truncations: pl.DataFrame, book: Book) -> pl.DataFrame:
    """Drop findings on the last row read from a truncated file: a line cut in the middle
    is the truncation, already reported."""
    truncated = truncations.filter(pl.col("check") == "truncated_file").select("source_file")
    rows = pl.concat(
        [
            getattr(book, name).select("source_file", "source_row")
            for name in file_rules.ACCOUNT_TABLES
        ]
    )
    cut_rows = (
        rows.join(truncated, on="source_file", how="semi")
        .group_by("source_file")
        .agg(pl.col("source_row").max())
    )
    return row_findings.join(cut_rows, on=["source_file", "source_row"], how="anti")


def _managed_accounts_only(drafts: pl.DataFrame, book: Book) -> pl.DataFrame:
    """A finding touches the accounts of the master only: rows of an account it does not
    have (an ``unknown_account`` warning) suspend nobody, whatever else is wrong in them."""
    managed = book.accounts.get_column("account_id").unique().implode()
    return drafts.with_columns(pl.col("account_ids").list.set_intersection(pl.lit(managed)))


def run_book_models(book: Book, policy: Policy) -> dict[str, pl.DataFrame]:
    """The outputs of ``BOOK_MODELS`` on the book's canonical tables."""
    return run_models(book.tables(), book.as_of, policy, validation_models())


def collect_findings(
    book: Book, policy: Policy, book_models: dict[str, pl.DataFrame] | None = None
) -> pl.DataFrame:
    """Every rule's findings for the book, with stable ids, sorted; ``book_models``: the
    book's ``run_book_models`` when already run."""
    checks = policy.validation
    models = run_book_models(book, policy) if book_models is None else book_models
    parsed = file_rules.scoped_parse_findings(book)
    incomplete = file_rules.incomplete_files(book)
    file_level = pl.concat(
        [
            parsed.filter(pl.col("source_row").is_null()),
            file_rules.file_status(book),
            file_rules.late_files(book, checks),
            incomplete,
        ]
    )
    skip = _accounts_with_incomplete_holdings(file_level, book)
    row_level = pl.concat(
        [
            parsed.filter(pl.col("source_row").is_not_null()),
            security_rules.unknown_securities(book, checks),
            references.unknown_accounts(book),
            references.accounts_at_two_custodians(book),
            _contracts_not_explained_by_parsing(contract_findings(book), book),
        ]
    )
    drafts = [
        file_level,
        _not_at_cut(row_level, incomplete, book),
        security_rules.missing_prices(book),
        security_rules.price_moves(book, checks),
        holding_rules.reconciliation(book, checks, skip),
        holding_rules.invalid_models(book),
        references.unresolvable_restrictions(book, models["restricted_securities"]),
        security_rules.unknown_realized_gains(book, models["wash_sale_windows"]),
    ]
    return finalize(_managed_accounts_only(pl.concat(drafts), book), book.as_of)


def validate_book(book: Book, policy: Policy) -> ValidationResult:
    models = run_book_models(book, policy)
    findings = collect_findings(book, policy, models)
    status = account_status(findings, book.accounts)
    queue = manual_queue(status, book.cash_requests, book.cash_balances, book.as_of)
    return ValidationResult(findings, status, queue, models)
