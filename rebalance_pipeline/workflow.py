"""The stages of one date chained in memory: validation → features → optimization → routing
→ compliance.

The Dagster assets call the same stage functions one by one (and fan the optimization out
over shards); this chain runs them in one process for the acceptance scenarios and for
tests, so there is one implementation of every rule.
"""

from __future__ import annotations

import dataclasses
import functools

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.compliance import ComplianceInputs, apply_compliance
from rebalance_pipeline.features import SQL_DIR, SqlModel, discover_models, run_models
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.routing.route import RoutingInputs, RoutingOutput, route_accounts
from rebalance_pipeline.validation import ValidationResult, validate_book


@dataclasses.dataclass(frozen=True)
class DateOutputs:
    validation: ValidationResult
    features: dict[str, pl.DataFrame]
    optimization_results: pl.DataFrame
    proposed_trades: pl.DataFrame
    proposal: RoutingOutput  # routing's decisions and trades before compliance
    routing: RoutingOutput  # what leaves: the proposal less the accounts compliance withheld
    compliance_violations: pl.DataFrame  # compliance.VIOLATIONS of the proposal


def feature_inputs(book: Book, validation: ValidationResult) -> dict[str, pl.DataFrame]:
    """What the SQL models may read: the canonical tables and validation's outputs."""
    return book.tables() | {
        "account_status": validation.account_status,
        "data_quality_issues": validation.findings,
    }


def routing_inputs(
    validation: ValidationResult,
    features: dict[str, pl.DataFrame],
    results: pl.DataFrame,
    trades: pl.DataFrame,
    pending_orders: pl.DataFrame | None = None,
) -> RoutingInputs:
    pending = {} if pending_orders is None else {"pending_orders": pending_orders}
    return RoutingInputs(
        account_status=validation.account_status,
        manual_queue=validation.manual_queue,
        account_valuations=features["account_valuations"],
        days_since_trade=features["days_since_trade"],
        mandates=features["mandates"],
        holdings=features["holdings"],
        asset_class_drift=features["asset_class_drift"],
        active_holds=features["active_holds"],
        active_halts=features["active_halts"],
        optimization_results=results,
        proposed_trades=trades,
        **pending,
    )


def compliance_inputs(
    book: Book, validation: ValidationResult, features: dict[str, pl.DataFrame]
) -> ComplianceInputs:
    """What compliance reads: canonical tables, account status and plain-data features."""
    return ComplianceInputs.from_tables(
        book.tables() | features | {"account_status": validation.account_status}
    )


@functools.cache
def sql_models() -> tuple[SqlModel, ...]:
    """The shipped SQL models, read once per process as the Dagster definitions read them
    when they load: parsing a model's column lineage takes longer than running it, and a
    process that runs many dates (the simulation) would otherwise parse them every date."""
    return tuple(discover_models(SQL_DIR))


def run_stages(
    book: Book, policy: Policy, pending_orders: pl.DataFrame | None = None
) -> DateOutputs:
    """Every stage of one date; ``pending_orders`` (continuity.PENDING_ORDERS) of a book
    carried on by ``continuity.continue_book``, for routing under ``pending_orders: hold``."""
    from rebalance_pipeline.optimization.problem_table import build_problems
    from rebalance_pipeline.optimization.shards import optimize_shard

    validation = validate_book(book, policy)
    features = run_models(
        feature_inputs(book, validation),
        book.as_of,
        policy,
        sql_models(),
        computed=validation.book_models,
    )
    problems = build_problems(features, book.tables(), policy)
    results, trades = optimize_shard(problems, policy)
    proposal = route_accounts(
        routing_inputs(validation, features, results, trades, pending_orders), policy
    )
    checked = apply_compliance(
        proposal, compliance_inputs(book, validation, features), policy, book.as_of
    )
    return DateOutputs(
        validation, features, results, trades, proposal, checked.routing, checked.violations
    )
