"""Discovery of the SQL models in ``dbt_like_sql/``: one file, one model, named after it.

A model's dependencies are read from its SQL with sqlglot (the tables it selects from,
minus its own CTEs and the context tables every model gets), so the SQL files alone
define the feature graph. A call of a table macro of ``dbt_like_sql/macros/`` counts as
the macro's SELECT on the tables the call names, so what a model reads through a macro
is a dependency and in its column lineage. Every defect a file can have (unparsable,
empty, not a single SELECT, a table macro called with too few or too many tables, part
of a dependency cycle) is raised here, when the definitions load.
"""

from __future__ import annotations

import dataclasses
import functools
import graphlib
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import sqlglot
from sqlglot import exp

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import CANONICAL_TABLES

if TYPE_CHECKING:
    from sqlglot.lineage import Node

SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"
MACRO_DIR = SQL_DIR / "macros"

# Tables every model may read without declaring them; filled by the runner on each run.
CONTEXT_TABLES: dict[str, pl.Schema] = {
    # history_from: the first day whose transactions the loaded history shows (the day
    # after the last business day before ingest's lookback window)
    "run_context": pl.Schema({"as_of": pl.Date, "history_from": pl.Date}),
    "policy_account_groups": pl.Schema(
        {
            "name": pl.String,
            "min_value": pl.Float64,
            "max_value": pl.Float64,
            "registrations": pl.List(pl.String),
            "review": pl.String,
            "gain_budget_usd": pl.Float64,
            "gain_budget_pct": pl.Float64,
            "ordinal": pl.Int64,
        }
    ),
}

# Feature models whose output has a contract in tables.py.
FEATURE_SCHEMAS: dict[str, pl.Schema] = {
    "account_positions": t.ACCOUNT_POSITIONS,
    "security_prices": t.SECURITY_PRICES,
    "untradable_securities": t.UNTRADABLE_SECURITIES,
    "account_valuations": t.ACCOUNT_VALUATIONS,
    "holdings": t.HOLDINGS,
    "asset_class_drift": t.ASSET_CLASS_DRIFT,
    "tax_lots": t.TAX_LOTS,
    "sell_gains": t.SELL_GAINS,
    "gain_budgets": t.GAIN_BUDGETS,
    "transition_progress": t.TRANSITION_PROGRESS,
    "wash_sale_windows": t.WASH_SALE_WINDOWS,
    "days_since_trade": t.DAYS_SINCE_TRADE,
    "restricted_securities": t.RESTRICTED_SECURITIES,
    "mandates": t.MANDATES,
    "active_holds": t.ACTIVE_HOLDS,
    "active_halts": t.ACTIVE_HALTS,
}

# Every table whose columns are known up front: lets sqlglot resolve column lineage.
KNOWN_SCHEMAS: dict[str, pl.Schema] = {
    **CANONICAL_TABLES,
    "account_status": t.ACCOUNT_STATUS,
    "data_quality_issues": t.FINDINGS,
    **CONTEXT_TABLES,
    **FEATURE_SCHEMAS,
}

logger = logging.getLogger(__name__)


class SqlModelError(ValueError):
    """A SQL model that cannot be loaded or run; the message names the file or model."""


@dataclasses.dataclass(frozen=True)
class SqlModel:
    name: str
    path: Path
    sql: str
    deps: tuple[str, ...]  # tables the model selects from, sorted, context tables excluded
    # output column -> sorted "table.column"s it derives from; best effort, so not part of
    # the model's identity (equality, hash)
    column_lineage: Mapping[str, tuple[str, ...]] = dataclasses.field(compare=False)


def discover_models(sql_dir: Path = SQL_DIR) -> list[SqlModel]:
    """Every ``*.sql`` file of ``sql_dir`` as a model, in dependency order."""
    models = [load_model(path) for path in sorted(sql_dir.glob("*.sql"))]
    return in_dependency_order(models)


def load_model(path: Path) -> SqlModel:
    return _model_of(path, path.read_text(encoding="utf-8"))


@functools.cache
def _model_of(path: Path, sql: str) -> SqlModel:
    """The model of ``path`` holding ``sql``, parsed once per process: the definitions
    and validation both load the shipped models, and parsing a model's column lineage
    takes longer than running it. Keyed by the text, so an edited file is parsed anew."""
    query = _expand_table_macros(path, _parse_single_select(path, sql))
    return SqlModel(
        name=path.stem,
        path=path,
        sql=sql,
        deps=tuple(_selected_tables(query)),
        column_lineage=_column_lineage(path, query),
    )


def in_dependency_order(models: Iterable[SqlModel]) -> list[SqlModel]:
    """Models sorted so that each comes after the models it reads (ties by name)."""
    by_name = {model.name: model for model in models}
    sorter = graphlib.TopologicalSorter(
        {name: [dep for dep in model.deps if dep in by_name] for name, model in by_name.items()}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        cycle = " -> ".join(error.args[1])
        raise SqlModelError(f"SQL models depend on each other in a cycle: {cycle}") from None
    ordered: list[SqlModel] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered.extend(by_name[name] for name in ready)
        sorter.done(*ready)
    return ordered


def _parse_single_select(path: Path, sql: str) -> exp.Query:
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as error:
        raise SqlModelError(f"{path}: cannot parse SQL: {error}") from None
    if not statements:
        raise SqlModelError(f"{path}: the file holds no SQL statement")
    if len(statements) > 1:
        raise SqlModelError(
            f"{path}: a model must be one SELECT, found {len(statements)} statements"
        )
    query = statements[0]
    if not isinstance(query, exp.Query):
        raise SqlModelError(f"{path}: a model must be a SELECT, found {query.key.upper()}")
    return query


def _expand_table_macros(path: Path, query: exp.Query) -> exp.Query:
    """``query`` with each table macro call replaced by the macro's SELECT, whose
    ``query_table(parameter)`` reads become reads of the tables the call passes."""
    macros = _table_macros()

    def expand(node: exp.Expression) -> exp.Expression:
        call = node.this if isinstance(node, exp.Table) else None
        if not isinstance(call, exp.Anonymous) or call.name.lower() not in macros:
            return node
        macro = macros[call.name.lower()]
        parameters = [parameter.name for parameter in macro.this.expressions]
        if len(call.expressions) != len(parameters):
            raise SqlModelError(
                f"{path}: {call.name} takes {len(parameters)} tables, given {len(call.expressions)}"
            )
        tables = dict(zip(parameters, call.expressions, strict=True))
        body = macro.expression.transform(lambda inner: _read_of(inner, tables))
        return exp.Subquery(this=body, alias=node.args.get("alias"))

    return query.transform(expand)


def _read_of(node: exp.Expression, tables: Mapping[str, exp.Expression]) -> exp.Expression:
    """A macro body's ``query_table(parameter) as alias`` as a read of the table passed."""
    call = node.this if isinstance(node, exp.Table) else None
    if not isinstance(call, exp.Anonymous) or call.name.lower() != "query_table":
        return node
    (parameter,) = call.expressions
    return exp.Table(
        this=exp.to_identifier(tables[parameter.name].name), alias=node.args.get("alias")
    )


@functools.cache
def _table_macros() -> dict[str, exp.Create]:
    """The table macros (``create macro name(...) as table select ...``) of the macro
    files, by name."""
    statements = [
        statement
        for path in sorted(MACRO_DIR.glob("*.sql"))
        for statement in sqlglot.parse(path.read_text(encoding="utf-8"), read="duckdb")
    ]
    return {
        statement.this.this.name.lower(): statement
        for statement in statements
        if isinstance(statement, exp.Create) and isinstance(statement.expression, exp.Query)
    }


def _selected_tables(query: exp.Query) -> list[str]:
    cte_names = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    names = {table.name for table in query.find_all(exp.Table) if table.name}
    return sorted(names - cte_names - set(CONTEXT_TABLES))


def _column_lineage(path: Path, query: exp.Query) -> dict[str, tuple[str, ...]]:
    """Output column -> source "table.column"s; empty where sqlglot cannot tell."""
    from sqlglot.lineage import lineage

    try:
        # trim_selects=False: each node keeps its source's whole SELECT instead of a copy
        # trimmed to the column; the sources found are the same, without a deep copy of
        # the query per column (most of the cost of loading the definitions' models)
        roots = lineage(None, query, schema=_sqlglot_schema(), dialect="duckdb", trim_selects=False)
    except Exception as error:  # lineage is documentation: a gap must not stop discovery
        logger.warning("no column lineage for %s: %s", path, error)
        return {}
    return {column: _source_columns(root) for column, root in roots.items()}


def _source_columns(root: Node) -> tuple[str, ...]:
    sources = {
        f"{node.expression.name}.{node.name.split('.')[-1]}"
        for node in root.walk()
        if isinstance(node.expression, exp.Table)
    }
    return tuple(sorted(sources))


def _sqlglot_schema() -> dict[str, dict[str, str]]:
    """Column names of the known tables (lineage needs names only, not types)."""
    return {
        table: {column: "VARCHAR" for column in schema.names()}
        for table, schema in KNOWN_SCHEMAS.items()
    }
