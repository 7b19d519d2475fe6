"""The one-query verdict says a table passes its contract exactly when pandera reports no
failure case: on every contract table of the sample book, of generated books full of
faults, and of frames broken in each way a contract can be broken."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pandera.polars as pa
import polars as pl
import pytest
from conftest import AS_OF, BookFactory

from rebalance_pipeline import generator, ingest
from rebalance_pipeline.book import Book
from rebalance_pipeline.validation import contracts
from rebalance_pipeline.validation.pandera_verdict import failing_part, passes

SEEDS = (1, 2, 5)


def pandera_passes(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> bool:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        assert not err.failure_cases.is_empty()
        return False
    return True


def failure_cases(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame | None:
    """Pandera's failure cases, in the columns the contracts read (a check's number among
    its column's checks is not one: it differs in a narrowed schema)."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return err.failure_cases.select(list(contracts.FAILURE_CASES))
    return None


def same_failure_cases(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> bool:
    """Pandera gives the narrowed schema of a failing frame the whole schema's failure
    cases, in their order."""
    narrowed = failing_part(schema, frame)
    if narrowed is None:
        return failure_cases(schema, frame) is None
    whole, part = failure_cases(schema, frame), failure_cases(narrowed, frame)
    return whole is not None and part is not None and whole.equals(part)


def disagreements(book: Book) -> list[str]:
    """The contract tables of ``book`` whose one-query verdict is not pandera's, or whose
    narrowed schema's failure cases are not the whole schema's."""
    out = []
    for table, schema in contracts.schemas(book.as_of).items():
        frame = getattr(book, table)
        if passes(schema, frame) != pandera_passes(schema, frame):
            out.append(f"{book.as_of} {table}")
        elif not same_failure_cases(schema, frame):
            out.append(f"{book.as_of} {table} failure cases")
    return out


def _sample_books() -> Iterator[Book]:
    """Every third of the sample's last 15 drop dates (the ones with the row faults)."""
    sample = generator.SAMPLE_DIR
    for day in sorted(d.name for d in (sample / "drops").iterdir() if d.is_dir())[-15::3]:
        yield ingest.load_book(sample, dt.date.fromisoformat(day), 60)


def test_the_verdict_is_pandera_s_on_every_table_of_the_sample_book() -> None:
    books = list(_sample_books())
    assert not [d for book in books for d in disagreements(book)]
    # the sample's faults break some of its tables: both verdicts were asked for
    failing = [
        table
        for book in books
        for table, schema in contracts.schemas(book.as_of).items()
        if not pandera_passes(schema, getattr(book, table))
    ]
    assert failing


@pytest.mark.parametrize("seed", SEEDS)
def test_the_verdict_is_pandera_s_on_generated_books_full_of_faults(
    tmp_path: Path, seed: int
) -> None:
    config = generator.GeneratorConfig(
        accounts=40, households=15, days=4, warmup_days=5, fault_rate=0.9, seed=seed
    )
    generated = generator.generate_book(config, tmp_path)
    books = [ingest.load_book(tmp_path, day, 60) for day in generated.drop_days]
    assert not [d for book in books for d in disagreements(book)]


def _set(column: str, value: object, row: int = 0) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """Replace one row's value of ``column`` (a null too), keeping the column's dtype."""

    def change(frame: pl.DataFrame) -> pl.DataFrame:
        dtype = frame.schema[column]
        at_row = pl.int_range(pl.len()) == row
        new = pl.lit(value, dtype=dtype) if value is not None else pl.lit(None, dtype=dtype)
        return frame.with_columns(pl.when(at_row).then(new).otherwise(pl.col(column)).alias(column))

    return change


def _add(row: dict[str, object]) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """Append one row (the book conforms it to the table's columns)."""
    return lambda frame: pl.concat([frame, pl.DataFrame([row])], how="diagonal_relaxed")


HOLD = {"account_id": "A1", "start_date": AS_OF, "end_date": AS_OF, "reason": "review"}
HALT = {"security_id": "SEC-A", "start_date": AS_OF, "end_date": AS_OF, "reason": "news"}
BAND = {"model_id": "M1", "asset_class": "us_equity", "min_weight": 0.2, "max_weight": 0.6}
RESTRICTION = {"restriction_id": "R1", "account_id": "A1", "security_id": "SEC-A"}
REQUEST = {
    "request_id": "Q1",
    "account_id": "A1",
    "amount": 100.0,
    "priority": "high",
    "due_date": AS_OF,
}
SPLIT = {
    "security_id": "SEC-A",
    "symbol": "AAA",
    "action": "split",
    "effective_date": AS_OF,
    "ratio": 2.0,
    "custodian": "C1",
}
LATER = AS_OF + dt.timedelta(days=1)

# (table, change of the healthy table, whether pandera passes it): each kind of test a
# contract makes, broken once, and the values a test lets through
CASES = {
    "healthy holds": ("holds", _add(HOLD), True),
    "healthy halts": ("halts", _add(HALT), True),
    "healthy bands": ("model_bands", _add(BAND), True),
    "healthy restriction": ("restrictions", _add(RESTRICTION), True),
    "healthy cash request": ("cash_requests", _add(REQUEST), True),
    "healthy corporate action": ("corporate_actions", _add(SPLIT), True),
    "null in a nullable checked column": ("prices", _set("close", None), True),
    "null in a nullable custom-checked column": (
        "holds",
        lambda f: _add(HOLD)(f).with_columns(end_date=pl.lit(None, pl.Date)),
        True,
    ),
    "an extra column": ("lots", lambda f: f.with_columns(note=pl.lit("x")), True),
    "no rows": ("lots", lambda f: f.clear(), True),
    "null in a non-nullable column": ("accounts", _set("household_id", None), False),
    "null in a non-nullable float column": ("lots", _set("quantity", None), False),
    "NaN in a non-nullable float column": ("cash_balances", _set("cash", float("nan")), False),
    "NaN in a non-nullable checked float column": (
        "accounts",
        _set("st_rate", float("nan")),
        False,
    ),
    "repeated key": ("accounts", _set("account_id", "A2"), False),
    "repeated key with a null part": (
        "positions",
        lambda f: f.with_columns(security_id=None, symbol=pl.lit("AAA"), account_id=pl.lit("A1")),
        False,
    ),
    "ge fails": ("positions", _set("quantity", -1.0), False),
    "gt fails": ("prices", _set("close", 0.0), False),
    "in_range fails": ("accounts", _set("lt_rate", 1.5), False),
    "isin fails": ("accounts", _set("registration", "trust"), False),
    "eq fails": ("prices", _set("price_date", LATER), False),
    "le fails": ("lots", _set("acquired_date", LATER), False),
    "custom column check fails": ("lots", _set("cost_basis", 0.0), False),
    "custom check on another column fails": (
        "holds",
        lambda f: _add(HOLD)(f).with_columns(end_date=pl.lit(AS_OF - dt.timedelta(days=1))),
        False,
    ),
    "custom string check fails": ("accounts", _set("gain_budget", "lots"), False),
    "custom isin-like check fails": ("accounts", _set("rebalance_type", "sometimes"), False),
    "dataframe check fails": ("model_bands", _add(BAND | {"min_weight": 0.7}), False),
    "dataframe check on nulls fails": (
        "restrictions",
        _add(RESTRICTION | {"household_id": "H1"}),
        False,
    ),
    "wrong dtype": ("lots", lambda f: f.with_columns(pl.col("quantity").cast(pl.Int64)), False),
    "missing column": ("accounts", lambda f: f.drop("model_id"), False),
}


@pytest.mark.parametrize(("table", "change", "pandera_verdict"), CASES.values(), ids=CASES)
def test_the_verdict_is_pandera_s_on_each_way_to_break_a_contract(
    make_book: BookFactory,
    table: str,
    change: Callable[[pl.DataFrame], pl.DataFrame],
    pandera_verdict: bool,
) -> None:
    frame = change(getattr(make_book(), table))
    schema = contracts.schemas(AS_OF)[table]
    assert pandera_passes(schema, frame) is pandera_verdict
    assert passes(schema, frame) is pandera_verdict
    assert same_failure_cases(schema, frame)


@pytest.mark.parametrize(("values", "pandera_verdict"), [([1, 2], True), ([1, 1], False)])
def test_the_verdict_is_pandera_s_for_a_unique_column(
    values: list[int], pandera_verdict: bool
) -> None:
    schema = pa.DataFrameSchema({"x": pa.Column(pl.Int64, unique=True)})
    frame = pl.DataFrame({"x": values})
    assert pandera_passes(schema, frame) is pandera_verdict
    assert passes(schema, frame) is pandera_verdict


def _not_null_schema(check: pa.Check) -> pa.DataFrameSchema:
    return pa.DataFrameSchema({"x": pa.Column(pl.Float64, checks=[check], nullable=True)})


@pytest.mark.parametrize(
    ("check", "values", "pandera_verdict"),
    [
        (pa.Check.ge(0.0, ignore_na=False), [1.0, None], False),
        (pa.Check.ge(0.0), [1.0, None], True),
        (pa.Check(lambda x: x >= 0, element_wise=True), [1.0, -1.0], False),
        (pa.Check(lambda x: x >= 0, element_wise=True), [1.0, 2.0], True),
        (pa.Check(lambda data: data.lazyframe.select(pl.col("nope") > 0)), [1.0], False),
        (
            pa.Check(lambda data: data.lazyframe.select(pl.col(data.key).cast(pl.Int64))),
            [1.0],
            False,
        ),
    ],
    ids=[
        "ignore_na_false",
        "ignore_na",
        "element_wise_fails",
        "element_wise",
        "errors",
        "no_booleans",
    ],
)
def test_the_verdict_is_pandera_s_for_checks_the_contracts_do_not_use(
    check: pa.Check, values: list[float | None], pandera_verdict: bool
) -> None:
    schema, frame = _not_null_schema(check), pl.DataFrame({"x": values}, schema={"x": pl.Float64})
    assert pandera_passes(schema, frame) is pandera_verdict
    assert passes(schema, frame) is pandera_verdict
    assert same_failure_cases(schema, frame)


@pytest.mark.parametrize(
    ("schema", "pandera_verdict"),
    [
        (pa.DataFrameSchema({"x": pa.Column(pl.Float64, nullable=True)}, coerce=True), True),
        (pa.DataFrameSchema({"x": pa.Column(pl.Int64, nullable=True)}, strict=True), False),
        (pa.DataFrameSchema({"x": pa.Column(pl.Int64, default=0)}), True),
    ],
    ids=["coerce", "strict", "default"],
)
def test_a_schema_that_changes_or_limits_the_frame_is_left_to_pandera(
    schema: pa.DataFrameSchema, pandera_verdict: bool
) -> None:
    """Coercion, strictness, defaults and the like are not in the one query."""
    frame = pl.DataFrame({"x": [1, None], "y": [1, 2]})
    assert pandera_passes(schema, frame) is pandera_verdict
    assert not passes(schema, frame)


def test_a_table_that_passes_is_not_validated_by_pandera(
    make_book: BookFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = make_book(holds=_add(HOLD), model_bands=_add(BAND))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pandera asked about a table that passes")

    monkeypatch.setattr(pa.DataFrameSchema, "validate", refuse)
    assert all(f.is_empty() for f in contracts.failures_by_table(book).values())


def test_the_verdict_holds_before_pandera_validated_anything_in_the_process() -> None:
    """Pandera registers its polars checks on its first validation: a process whose
    first contract question is the one query must not find them missing."""
    script = (
        "import datetime as dt, polars as pl\n"
        "from rebalance_pipeline.validation import contracts, pandera_verdict\n"
        "schema = contracts.schemas(dt.date(2026, 3, 16))['securities']\n"
        "frame = pl.DataFrame({'security_id': ['S'], 'symbol': ['S'], 'asset_class': ['x'],"
        " 'sector': [None], 'rating': [3], 'round_lot': [1], 'identical_group': [None],"
        " 'average_daily_volume': [1.0]}, schema_overrides={'sector': pl.String,"
        " 'identical_group': pl.String})\n"
        "print(pandera_verdict.passes(schema, frame))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
