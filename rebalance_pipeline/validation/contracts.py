"""Pandera (polars backend) contracts of the canonical tables, and their failures as findings.

Each failure case points at a row; the row names its account (or its security, whose
holders are touched, or its model, whose accounts are). Failures that a more specific
rule owns get that rule's check name instead of a generic one: a null required value is
``null_value``, a repeated key ``duplicate_rows`` (one finding per repeated key), a
negative quantity ``negative_quantity``, and the checks of :data:`NAMED_CHECKS` their
own name (``invalid_hold``, ``invalid_halt``, ``zero_cost_basis``,
``unknown_rebalance_type``, ``invalid_gain_budget``).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book
from rebalance_pipeline.validation import pandera_verdict, scope
from rebalance_pipeline.validation.findings import draft, empty_draft

if TYPE_CHECKING:
    import pandera.polars as pa

ACCOUNT_KEYED = (
    "accounts",
    "positions",
    "lots",
    "transactions",
    "cash_balances",
    "cash_requests",
    "holds",
)
SECURITY_KEYED = ("prices", "securities", "corporate_actions", "halts")
MODEL_KEYED = ("model_targets", "model_bands")
# every table with a contract (the keys of ``schemas``)
CONTRACT_TABLES = tuple(sorted((*ACCOUNT_KEYED, *SECURITY_KEYED, *MODEL_KEYED, "restrictions")))


def _ends_before_it_starts(name: str) -> pa.Check:
    """A hold or halt that ends before it starts is never in force, so the account or
    security would trade although someone stopped it. An error: a hold suspends its
    account; a halt blocks its security and suspends its holders (whom the default
    ``skip_account`` halt mode would keep from trading)."""
    import pandera.polars as pa

    return pa.Check(
        lambda data: data.lazyframe.select(pl.col(data.key) >= pl.col("start_date")),
        name=name,
    )


def _zero_cost_basis() -> pa.Check:
    """A lot held at no cost basis makes every sale of it look like a pure gain: the
    account's taxes and harvests would be planned on a wrong figure. An error: its
    account is suspended (a lot of no quantity may have none)."""
    import pandera.polars as pa

    return pa.Check(
        lambda data: data.lazyframe.select((pl.col(data.key) != 0) | (pl.col("quantity") <= 0)),
        name="zero_cost_basis",
    )


def _known_rebalance_type() -> pa.Check:
    """An account master's ``rebalance_type`` the optimizer does not know would leave open
    what the account may trade: an error of that account (blank is ``normal``)."""
    import pandera.polars as pa

    return pa.Check(
        lambda data: data.lazyframe.select(
            pl.col(data.key).is_null() | pl.col(data.key).is_in(t.REBALANCE_TYPES)
        ),
        name="unknown_rebalance_type",
    )


def _valid_gain_budget() -> pa.Check:
    """An account master's ``gain_budget`` that is neither dollars, a percent nor "none"
    (a negative amount, a word) would leave the account's gain budget unknown: an error
    of that account (blank is its group's budget)."""
    import pandera.polars as pa

    return pa.Check(
        lambda data: data.lazyframe.select(
            pl.col(data.key).is_null() | pl.col(data.key).str.contains(t.GAIN_BUDGET_PATTERN)
        ),
        name="invalid_gain_budget",
    )


# checks whose failures are findings of that very name
NAMED_CHECKS = (
    "invalid_hold",
    "invalid_halt",
    "zero_cost_basis",
    "unknown_rebalance_type",
    "invalid_gain_budget",
)


def _exactly_one_of(first: str, second: str) -> pa.Check:
    import pandera.polars as pa

    return pa.Check(
        lambda data: data.lazyframe.select(pl.col(first).is_null() != pl.col(second).is_null()),
        name=f"exactly_one_of_{first}_{second}",
    )


@functools.lru_cache(maxsize=16)
def schemas(as_of: dt.date) -> dict[str, pa.DataFrameSchema]:
    """The contract of every canonical table a date is validated on (not price history:
    those closes were validated on their own dates). Cached: building pandera schemas
    costs more than validating a 10k-account book."""
    import pandera.polars as pa

    def col(
        dtype: type | pl.DataType = pl.String, *checks: pa.Check, nullable: bool = False
    ) -> pa.Column:
        return pa.Column(dtype, checks=list(checks), nullable=nullable)

    def opt(dtype: type | pl.DataType = pl.String, *checks: pa.Check) -> pa.Column:
        return col(dtype, *checks, nullable=True)

    rate = pa.Check.in_range(0.0, 1.0)
    nonneg = pa.Check.ge(0.0)
    src = {"custodian": col(), "source_file": opt(), "source_row": opt(pl.Int64)}
    return {
        "accounts": pa.DataFrameSchema(
            {
                "account_id": col(),
                "household_id": col(),
                "custodian": col(),
                "registration": col(
                    pl.String, pa.Check.isin(["taxable", "traditional_ira", "roth"])
                ),
                "model_id": col(),
                "st_rate": col(pl.Float64, rate),
                "lt_rate": col(pl.Float64, rate),
                "opened_date": opt(pl.Date, pa.Check.le(as_of)),
                "last_firm_trade_date": opt(pl.Date, pa.Check.le(as_of)),
                "rebalance_type": opt(pl.String, _known_rebalance_type()),
                "gain_budget": opt(pl.String, _valid_gain_budget()),
                "transition_start": opt(pl.Date, pa.Check.le(as_of)),
            },
            unique=["account_id"],
        ),
        "securities": pa.DataFrameSchema(
            {
                "security_id": col(),
                "symbol": col(),
                "asset_class": col(),
                "sector": opt(),
                "rating": col(pl.Int64, pa.Check.in_range(1, 5)),
                "round_lot": col(pl.Int64, pa.Check.ge(1)),
                "identical_group": opt(),
                "average_daily_volume": opt(pl.Float64, nonneg),
            },
            unique=["security_id"],
        ),
        "model_targets": pa.DataFrameSchema(
            {"model_id": col(), "security_id": col(), "target_weight": col(pl.Float64, rate)},
            unique=["model_id", "security_id"],
        ),
        "model_bands": pa.DataFrameSchema(
            {
                "model_id": col(),
                "asset_class": col(),
                "min_weight": col(pl.Float64, rate),
                "max_weight": col(pl.Float64, rate),
            },
            checks=[
                pa.Check(
                    lambda data: data.lazyframe.select(
                        pl.col("min_weight") <= pl.col("max_weight")
                    ),
                    name="min_weight_at_most_max_weight",
                )
            ],
            unique=["model_id", "asset_class"],
        ),
        "restrictions": pa.DataFrameSchema(
            {
                "restriction_id": col(),
                "account_id": opt(),
                "household_id": opt(),
                "security_id": opt(),
                "sector": opt(),
                "reason": opt(),
            },
            checks=[
                _exactly_one_of("account_id", "household_id"),
                _exactly_one_of("security_id", "sector"),
            ],
            unique=["restriction_id"],
        ),
        "cash_requests": pa.DataFrameSchema(
            {
                "request_id": col(),
                "account_id": col(),
                "amount": col(pl.Float64, nonneg),
                "priority": col(pl.String, pa.Check.isin(["high", "normal"])),
                "due_date": col(pl.Date),
            },
            unique=["request_id"],
        ),
        "prices": pa.DataFrameSchema(
            {
                "price_date": col(pl.Date, pa.Check.eq(as_of)),
                "security_id": opt(),
                "symbol": opt(),
                "close": opt(pl.Float64, pa.Check.gt(0.0)),  # null close: missing_price
                **src,
            },
            unique=["custodian", "security_id", "symbol", "price_date"],
        ),
        "positions": pa.DataFrameSchema(
            {
                "account_id": col(),
                "security_id": opt(),  # null: unknown_security
                "symbol": opt(),
                "quantity": col(pl.Float64, nonneg),
                **src,
            },
            unique=["account_id", "security_id", "symbol"],
        ),
        "lots": pa.DataFrameSchema(
            {
                "account_id": col(),
                "lot_id": col(),
                "security_id": opt(),
                "symbol": opt(),
                "quantity": col(pl.Float64, nonneg),
                "cost_basis": col(pl.Float64, nonneg, _zero_cost_basis()),
                "acquired_date": col(pl.Date, pa.Check.le(as_of)),
                **src,
            },
            unique=["account_id", "lot_id"],
        ),
        "transactions": pa.DataFrameSchema(
            {
                "transaction_id": col(),
                "account_id": col(),
                "trade_date": col(pl.Date, pa.Check.le(as_of)),
                "type": col(
                    pl.String,
                    pa.Check.isin(["buy", "sell", "deposit", "withdrawal", "dividend", "fee"]),
                ),
                "security_id": opt(),
                "symbol": opt(),
                "quantity": opt(pl.Float64, nonneg),
                "price": opt(pl.Float64, pa.Check.gt(0.0)),
                "amount": col(pl.Float64),
                "realized_gain": opt(pl.Float64),
                "cost_basis": opt(pl.Float64, nonneg),
                "lot_id": opt(),
                **src,
            },
            unique=["account_id", "transaction_id"],
        ),
        "cash_balances": pa.DataFrameSchema(
            {"account_id": col(), "cash": col(pl.Float64), **src}, unique=["account_id"]
        ),
        "corporate_actions": pa.DataFrameSchema(
            {
                "security_id": opt(),
                "symbol": col(),
                "action": col(pl.String, pa.Check.isin(["split", "symbol_change"])),
                "effective_date": col(pl.Date),
                "ratio": opt(pl.Float64, pa.Check.gt(0.0)),
                "new_symbol": opt(),
                **src,
            },
        ),
        "holds": pa.DataFrameSchema(
            {
                "account_id": col(),
                "start_date": col(pl.Date),
                "end_date": opt(pl.Date, _ends_before_it_starts("invalid_hold")),
                "reason": opt(),
            }
        ),
        "halts": pa.DataFrameSchema(
            {
                "security_id": col(),
                "start_date": col(pl.Date),
                "end_date": opt(pl.Date, _ends_before_it_starts("invalid_halt")),
                "reason": opt(),
            }
        ),
    }


def _check_name(table: str) -> pl.Expr:
    check = pl.col("check")
    return (
        pl.when(check.is_in(NAMED_CHECKS))
        .then(check)
        .when(check == "not_nullable")
        .then(pl.lit("null_value"))
        .when(check.str.contains("uniqueness"))
        .then(pl.lit("duplicate_rows"))
        .when(
            pl.lit(table in ("lots", "positions"))
            & (pl.col("column") == "quantity")
            & check.str.starts_with("greater_than_or_equal_to")
        )
        .then(pl.lit("negative_quantity"))
        .otherwise(pl.lit("contract_violation"))
    )


FAILURE_CASES = {
    "index": pl.Int64,
    "column": pl.String,
    "check": pl.String,
    "failure_case": pl.String,
}


def _failures(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame:
    """(index, column, check, failure_case) of every failing row of ``frame``. Pandera
    is asked only when one query cannot tell the frame passes (on most dates every table
    does, and pandera's test-by-test validation costs more than the whole query), and
    then only for the tests that query saw fail."""
    import pandera.polars as pa

    failing = pandera_verdict.failing_part(schema, frame)
    if failing is None:
        return pl.DataFrame(schema=FAILURE_CASES)
    try:
        failing.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        return cases.select(pl.col(name).cast(dtype) for name, dtype in FAILURE_CASES.items())
    return pl.DataFrame(schema=FAILURE_CASES)


def _one_per_repeated_key(failing: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Pandera flags every row of a repeated key: keep the key's last row only."""
    key_text = pl.concat_str(
        [pl.lit("")] + [pl.col(c).cast(pl.String).fill_null("") for c in key], separator="|"
    )
    group = (
        pl.when(pl.col("finding_check") == "duplicate_rows")
        .then(key_text)
        .otherwise(pl.col("index").cast(pl.String))
    )
    return (
        failing.with_columns(group.alias("_group"))
        .sort("index")
        .unique(["finding_check", "column", "check", "_group"], keep="last", maintain_order=True)
        .drop("_group")
    )


def _scope_rows(table: str, rows: pl.DataFrame, book: Book) -> pl.DataFrame:
    if table in ACCOUNT_KEYED:
        return scope.by_account(rows)
    if table in SECURITY_KEYED:
        return scope.by_security(rows, book)
    if table in MODEL_KEYED:
        models = book.accounts.group_by("model_id").agg(
            pl.col("account_id").sort().alias("account_ids")
        )
        return rows.join(models, on="model_id", how="left")
    if table == "restrictions":
        return scope.by_restriction(rows, book)
    return scope.by_custodian(rows, book)


def table_failures(table: str, frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """One table's pandera failure cases (index, column, check, failure_case)."""
    return _failures(schemas(as_of)[table], frame)


def failures_by_table(book: Book) -> dict[str, pl.DataFrame]:
    return {
        table: table_failures(table, getattr(book, table), book.as_of)
        for table in schemas(book.as_of)
    }


def contract_findings(book: Book) -> pl.DataFrame:
    """Validate every table against its contract; one finding per failing row and check
    (per repeated key for duplicates)."""
    out = []
    contracts = schemas(book.as_of)
    for table, failures in failures_by_table(book).items():
        if failures.is_empty():
            continue
        schema, frame = contracts[table], getattr(book, table)
        failures = failures.with_columns(_check_name(table).alias("finding_check"))
        rows = frame.with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
        # a failure of the whole table (no row index) is kept, scoped to no account
        failing = failures.join(rows, on="index", how="left")
        failing = _one_per_repeated_key(failing, list(schema.unique or []))
        failing = failing.with_columns(
            pl.col("finding_check").alias("check"),
            pl.format(
                "{}.{}: {} failed for {}",
                pl.lit(table),
                pl.col("column").fill_null("*"),
                pl.col("check"),
                pl.col("failure_case").fill_null("null"),
            ).alias("message"),
        )
        out.append(draft(_scope_rows(table, failing, book)))
    return pl.concat(out) if out else empty_draft()
