"""Whether a frame passes a pandera (polars) schema, decided by one Polars query.

Pandera's polars backend collects every check, nullability, dtype and uniqueness test of a
schema on its own: 5–17 ms a table even of a few rows, although on almost every date every
table passes. :func:`passes` builds the same tests from the schema objects themselves
(pandera's own check functions applied to ``PolarsData``, their null outputs treated as
pandera treats them), each as a one-row aggregate, and collects them all at once.

It answers ``True`` only when pandera would report no failure case. A failing test, a
schema feature it does not model (coercion, strictness, defaults, regex or optional
columns, grouped checks, ...) or a check that errors all answer ``False``: the caller then
asks pandera itself, whose failure cases are the findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    import pandera.polars as pa

FLOATS = (pl.Float32, pl.Float64)


def passes(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> bool:
    """True when ``schema.validate(frame, lazy=True)`` surely raises no failure case."""
    return failing_part(schema, frame) is None


def failing_part(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pa.DataFrameSchema | None:
    """None when ``frame`` surely passes ``schema``; else the schema narrowed to the tests
    the frame fails (the whole schema when the verdict is not decided). Pandera gives the
    narrowed schema the failure cases it gives the whole one (the tests it leaves out
    have none), without running every test of a large table again."""
    decidable = (
        _polars_backend(schema, frame) and _modelled(schema) and _columns_as_declared(schema, frame)
    )
    if not decidable:
        return schema
    try:
        tests, verdicts = zip(*_verdicts(schema, frame.lazy()), strict=True)
        # small frames in memory: the streaming engine would take longer to start than to run
        results = pl.collect_all(list(verdicts), engine="in-memory")
    except Exception:  # a check that errors is a failure pandera reports
        return schema
    failed = {
        test
        for test_group, result in zip(tests, results, strict=True)
        for test, verdict in zip(test_group, result.row(0), strict=True)
        if verdict is not True
    }
    return _narrowed(schema, failed) if failed else None


def _narrowed(schema: pa.DataFrameSchema, failed: set[tuple]) -> pa.DataFrameSchema:
    """``schema`` with only the ``failed`` tests (labels of :func:`_verdicts`)."""
    narrowed = schema.update_columns(
        {
            name: {
                "nullable": column.nullable or ("not_null", name) not in failed,
                "unique": column.unique and ("unique", name) in failed,
                "checks": [
                    check for i, check in enumerate(column.checks) if ("check", name, i) in failed
                ],
            }
            for name, column in schema.columns.items()
        }
    )
    keys = [key for i, key in enumerate(_unique_keys(schema)) if ("key", i) in failed]
    narrowed.unique = None if not keys else schema.unique if len(keys) == 1 else keys
    narrowed.checks = [c for i, c in enumerate(schema.checks) if ("check", None, i) in failed]
    return narrowed


def _polars_backend(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> bool:
    """Pandera validates the frame with its native polars backend (not narwhals). Asking
    for it registers that backend's built-in checks, as a first ``validate`` would."""
    from pandera.backends.polars.container import DataFrameSchemaBackend

    return isinstance(schema.get_backend(frame), DataFrameSchemaBackend)


def _modelled(schema: pa.DataFrameSchema) -> bool:
    """The schema uses only the features whose verdict :func:`_verdicts` reproduces: no
    parser, coercion, default or column filtering changes the frame before the checks."""
    frame_level = (
        schema.dtype is None
        and not schema.coerce
        and not schema.strict
        and not schema.ordered
        and not schema.add_missing_columns
        and not schema.drop_invalid_rows
        and not getattr(schema, "parsers", None)
    )
    columns = all(
        name == column.name
        and column.required
        and not column.regex
        and not column.coerce
        and column.default is None
        and not column.drop_invalid_rows
        and not getattr(column, "parsers", None)
        for name, column in schema.columns.items()
    )
    checks = [*schema.checks, *(c for column in schema.columns.values() for c in column.checks)]
    return frame_level and columns and all(check.groupby is None for check in checks)


def _columns_as_declared(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> bool:
    """Every column is present with its declared dtype, as pandera's ``dtype.check`` sees it."""
    from pandera.api.polars.types import PolarsData

    dtypes = frame.schema
    for name, column in schema.columns.items():
        if name not in dtypes:
            return False
        data = PolarsData(frame.lazy().select(name), name)
        if column.dtype is not None and not column.dtype.check(dtypes[name], data):
            return False
    return True


def _verdicts(
    schema: pa.DataFrameSchema, lazy: pl.LazyFrame
) -> Iterator[tuple[list[tuple], pl.LazyFrame]]:
    """One-row frames of booleans, each True when its test passes, with the labels of
    their tests: one frame of the nullability and uniqueness tests, one per check."""
    labels, tests = zip(*_core_tests(schema, lazy.collect_schema()), strict=True)
    yield list(labels), lazy.select(tests)
    for name, column in schema.columns.items():
        for i, check in enumerate(column.checks):
            yield [("check", name, i)], _check_verdict(check, lazy, name)
    for i, check in enumerate(schema.checks):
        yield [("check", None, i)], _check_verdict(check, lazy, None)


def _core_tests(schema: pa.DataFrameSchema, dtypes: pl.Schema) -> list[tuple[tuple, pl.Expr]]:
    """Pandera's ``not_nullable``, ``field_uniqueness`` and
    ``multiple_fields_uniqueness`` tests as aggregates, with their labels."""
    tests: list[tuple[tuple, pl.Expr]] = [(("frame",), pl.lit(True))]  # a row, even alone
    for name, column in schema.columns.items():
        value = pl.col(name)
        if not column.nullable:
            present = value.is_not_null()
            if dtypes[name] in FLOATS:  # pandera counts NaN as null too
                present = present & value.is_not_nan()
            tests.append((("not_null", name), present.all()))
        if column.unique:
            tests.append((("unique", name), value.is_duplicated().any().not_()))
    tests += [
        (("key", i), pl.struct(key).is_duplicated().any().not_())
        for i, key in enumerate(_unique_keys(schema))
    ]
    return [(label, test.alias(f"t{i}")) for i, (label, test) in enumerate(tests)]


def _unique_keys(schema: pa.DataFrameSchema) -> list[list[str]]:
    """``schema.unique`` as pandera reads it: one key, or a list of keys."""
    unique: Any = schema.unique
    if not unique:
        return []
    return [list(unique)] if all(isinstance(c, str) for c in unique) else [list(k) for k in unique]


def _check_verdict(check: pa.Check, lazy: pl.LazyFrame, key: str | None) -> pl.LazyFrame:
    """Pandera's check backend applied as in ``Check.__call__``, reduced as its
    ``postprocess`` does: a null output passes when the check ignores nulls, fails if not."""
    from pandera.api.polars.types import PolarsData
    from pandera.constants import CHECK_OUTPUT_KEY

    _reload_builtin(check)
    output = check.get_backend(lazy)(check).apply(PolarsData(lazy, key or "*"))
    if isinstance(output, bool):
        return pl.LazyFrame({CHECK_OUTPUT_KEY: [output]})
    if output.collect_schema()[CHECK_OUTPUT_KEY] != pl.Boolean:
        raise TypeError(f"check {check} gives no booleans")
    passed = pl.col(CHECK_OUTPUT_KEY)
    passed = passed | passed.is_null() if check.ignore_na else passed.fill_null(False)
    return output.select(passed.all())


def _reload_builtin(check: pa.Check) -> None:
    """What ``Check.__call__`` does first: a built-in check made before pandera registered
    its polars backend holds a dispatcher without the polars implementation."""
    name = getattr(check._check_fn, "__name__", None)
    if name is not None and check.is_builtin_check(name):
        check._check_fn = check.get_builtin_check_fn(name)
