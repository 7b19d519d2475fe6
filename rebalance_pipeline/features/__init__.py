"""Feature tables: dbt-like DuckDB SQL models read from ``dbt_like_sql/`` and their runner."""

from rebalance_pipeline.features.models import (
    CONTEXT_TABLES,
    FEATURE_SCHEMAS,
    SQL_DIR,
    SqlModel,
    SqlModelError,
    discover_models,
    in_dependency_order,
    load_model,
)
from rebalance_pipeline.features.runner import context_tables, run_model, run_models

__all__ = [
    "CONTEXT_TABLES",
    "FEATURE_SCHEMAS",
    "SQL_DIR",
    "SqlModel",
    "SqlModelError",
    "context_tables",
    "discover_models",
    "in_dependency_order",
    "load_model",
    "run_model",
    "run_models",
]
