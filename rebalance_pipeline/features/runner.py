"""Run the SQL models on Polars frames with an in-memory DuckDB connection.

Each model gets its own connection with its input frames registered as views (Polars ->
Arrow, no copy) plus the context tables, so a model reads exactly what it declares; the
macros of ``dbt_like_sql/macros/`` are in its database (``macros.macro_connection``).
The database runs on one thread: floating-point sums then always add in input order,
so a re-run on the same inputs gives the same bytes (a 10k-account date still takes
about a second for all models).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import duckdb
import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.calendar import previous_business_days
from rebalance_pipeline.features.macros import macro_connection
from rebalance_pipeline.features.models import (
    CONTEXT_TABLES,
    FEATURE_SCHEMAS,
    SqlModel,
    SqlModelError,
    in_dependency_order,
)
from rebalance_pipeline.policy import Policy


def context_tables(as_of: dt.date, policy: Policy) -> dict[str, pl.DataFrame]:
    """The tables every model may read: the run date with the first day of the loaded
    transactions history, and the policy's account groups."""
    groups = pl.DataFrame(
        [
            {
                "name": group.name,
                "min_value": group.min_value,
                "max_value": group.max_value,
                "registrations": group.registrations,
                "review": group.review,
                "gain_budget_usd": group.gain_budget_usd,
                "gain_budget_pct": group.gain_budget_pct,
                "ordinal": ordinal,
            }
            for ordinal, group in enumerate(policy.account_groups)
        ],
        schema=CONTEXT_TABLES["policy_account_groups"],
    )
    run_context = pl.DataFrame(
        {"as_of": [as_of], "history_from": [history_from(as_of, policy)]},
        schema=CONTEXT_TABLES["run_context"],
    )
    return {"run_context": run_context, "policy_account_groups": groups}


def history_from(as_of: dt.date, policy: Policy) -> dt.date:
    """The first day whose transactions ingest loads: the day after the last business day
    before its lookback window (``ingest.load.load_book``)."""
    window = previous_business_days(as_of, policy.validation.lookback_business_days + 1)
    return window[0] + dt.timedelta(days=1)


def run_model(
    model: SqlModel, inputs: Mapping[str, pl.DataFrame], as_of: dt.date, policy: Policy
) -> pl.DataFrame:
    """The model's output; conformed to its tables.py schema when it has one."""
    return _ModelInputs(inputs, context_tables(as_of, policy)).run(model)


def run_models(
    inputs: Mapping[str, pl.DataFrame],
    as_of: dt.date,
    policy: Policy,
    models: Iterable[SqlModel],
    computed: Mapping[str, pl.DataFrame] | None = None,
) -> dict[str, pl.DataFrame]:
    """Every model in dependency order, each output visible to the models after it;
    ``computed``: outputs of some of the models already run on the same inputs (they
    are taken as they are, not run again).

    Returns only the models' outputs, keyed by model name.
    """
    available = _ModelInputs(inputs, context_tables(as_of, policy))
    outputs: dict[str, pl.DataFrame] = {}
    for model in in_dependency_order(models):
        output = (computed or {}).get(model.name)
        outputs[model.name] = output if output is not None else available.run(model)
        available.add(model.name, outputs[model.name])
    return outputs


class _ModelInputs:
    """The frames models read (the context tables included), each handed to DuckDB as
    Arrow once however many models read it."""

    def __init__(
        self, frames: Mapping[str, pl.DataFrame], context: Mapping[str, pl.DataFrame]
    ) -> None:
        self._frames = dict(frames)
        self._context = {name: frame.to_arrow() for name, frame in context.items()}
        self._arrow: dict[str, object] = {}

    def add(self, name: str, frame: pl.DataFrame) -> None:
        self._frames[name] = frame
        self._arrow.pop(name, None)

    def run(self, model: SqlModel) -> pl.DataFrame:
        """The model's output; conformed to its tables.py schema when it has one."""
        missing = [dep for dep in model.deps if dep not in self._frames]
        if missing:
            raise SqlModelError(
                f"model {model.name} ({model.path}) reads {', '.join(missing)}, "
                "which the inputs do not provide"
            )
        with macro_connection() as connection:
            for dep in model.deps:
                connection.register(dep, self._arrow_of(dep))
            for name, table in self._context.items():
                connection.register(name, table)
            try:
                result = connection.sql(model.sql).pl()
            except duckdb.Error as error:
                raise SqlModelError(f"model {model.name} ({model.path}) failed: {error}") from error
        schema = FEATURE_SCHEMAS.get(model.name)
        return t.conform(result, schema) if schema is not None else result

    def _arrow_of(self, name: str) -> object:
        if name not in self._arrow:
            self._arrow[name] = self._frames[name].to_arrow()
        return self._arrow[name]
