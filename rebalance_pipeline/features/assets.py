"""One Dagster asset per SQL model; upstream assets come from the SQL itself."""

import hashlib
from pathlib import Path

import dagster as dg
import polars as pl

from rebalance_pipeline.features.models import (
    CONTEXT_TABLES,
    SQL_DIR,
    SqlModel,
    discover_models,
)
from rebalance_pipeline.features.runner import run_model
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


def sql_model_asset(model: SqlModel) -> dg.AssetsDefinition:
    @dg.asset(
        name=model.name,
        ins={dep: dg.AssetIn(key=dep) for dep in model.deps},
        partitions_def=business_day_partitions(),
        io_manager_key="warehouse",
        group_name=GROUP,
        kinds={"duckdb", "sql"},
        description=f"SQL model {model.path.name}:\n\n```sql\n{model.sql.strip()}\n```",
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
    )
    def _asset(
        context: dg.AssetExecutionContext, book: BookSource, **inputs: pl.DataFrame
    ) -> dg.Output[pl.DataFrame]:
        as_of = partition_date(context.partition_key)
        frame = run_model(model, inputs, as_of, book.policy(as_of))
        return dg.Output(frame, metadata={"dagster/column_lineage": column_lineage(model)})

    return _asset


def feature_assets(sql_dir: Path = SQL_DIR) -> list[dg.AssetsDefinition]:
    return [sql_model_asset(model) for model in discover_models(sql_dir)]
