"""The SQL models as Dagster assets: one asset per file, upstream assets read from the SQL.

All models of a date run in one step (a multi-asset with one output per SQL file): a step
is a process that loads the code location, which costs more than every model together.
Each model is still its own asset with its own lineage, and a subset of them can be
materialized alone.
"""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from rebalance_pipeline.features.models import (
    CONTEXT_TABLES,
    SQL_DIR,
    SqlModel,
    discover_models,
)
from rebalance_pipeline.features.runner import run_models
from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource

GROUP = "features"


def column_lineage(model: SqlModel) -> dg.TableColumnLineage:
    """sqlglot's column lineage as Dagster column dependencies (context tables left out)."""
    deps_by_column = {
        column: [
            dg.TableColumnDep(asset_key=table, column_name=name)
            for table, name in (source.split(".", 1) for source in sources)
            if table not in CONTEXT_TABLES
        ]
        for column, sources in model.column_lineage.items()
    }
    return dg.TableColumnLineage(deps_by_column=deps_by_column)


def _out(model: SqlModel) -> dg.AssetOut:
    return dg.AssetOut(
        io_manager_key="warehouse",
        group_name=GROUP,
        kinds={"duckdb", "sql"},
        description=f"SQL model {model.path.name}:\n\n```sql\n{model.sql.strip()}\n```",
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        is_required=False,
    )


def feature_assets(sql_dir: Path = SQL_DIR) -> list[dg.AssetsDefinition]:
    models = discover_models(sql_dir)
    names = {model.name for model in models}
    external = sorted({dep for model in models for dep in model.deps} - names)

    @dg.multi_asset(
        name="features",
        outs={model.name: _out(model) for model in models},
        ins={dep: dg.AssetIn(key=dep) for dep in external},
        internal_asset_deps={
            model.name: {dg.AssetKey(dep) for dep in model.deps} for model in models
        },
        partitions_def=business_day_partitions(),
        can_subset=True,
    )
    def _features(
        context: dg.AssetExecutionContext, book: BookSource, **inputs: pl.DataFrame
    ) -> Iterator[dg.Output]:
        as_of = partition_date(context.partition_key)
        selected = context.op_execution_context.selected_output_names
        needed = [
            model
            for model in models
            if model.name in selected or _needed_later(model, models, selected)
        ]
        # one run shares each input's conversion for DuckDB between the models reading it
        outputs = run_models(inputs, as_of, book.policy(as_of), needed)
        for model in models:  # dependency order
            if model.name in selected:
                yield dg.Output(
                    outputs[model.name],
                    output_name=model.name,
                    metadata={"dagster/column_lineage": column_lineage(model)},
                )

    return [_features]


def _needed_later(model: SqlModel, models: list[SqlModel], selected: set[str]) -> bool:
    """Whether a selected model reads ``model``, directly or through other models."""
    readers = {m.name for m in models if model.name in m.deps}
    return bool(readers & selected) or any(
        _needed_later(m, models, selected) for m in models if m.name in readers
    )
