"""The one Dagster ``Definitions`` of the code location: every stage's assets and checks,
the daily job and its executor, and the resources. Stage wiring lives in each stage's
``assets.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._config import process_config
from dagster._core.definitions.executor_definition import (
    IN_PROC_CONFIG,
    MULTI_PROC_CONFIG,
    ExecutorRequirement,
)

from rebalance_pipeline.compliance.assets import compliance
from rebalance_pipeline.continuity.assets import continuity
from rebalance_pipeline.daily_report.assets import daily_report
from rebalance_pipeline.executor import MULTIPROCESS_CONFIG, ExecutorChoice
from rebalance_pipeline.export.assets import trade_files
from rebalance_pipeline.features.assets import feature_assets
from rebalance_pipeline.ingest.assets import canonical_tables, custodian_drops, firm_files
from rebalance_pipeline.operations import OPERATIONS, SCHEDULES, SENSORS, with_desk_deadline
from rebalance_pipeline.optimization.assets import optimization, optimization_problems
from rebalance_pipeline.partitions import JOB_NAME
from rebalance_pipeline.resources import BookSource, ReleaseMode, WarehouseIOManager
from rebalance_pipeline.routing.assets import proposed_routes
from rebalance_pipeline.validation.assets import validation

ASSETS = with_desk_deadline(
    [
        custodian_drops,
        firm_files,
        canonical_tables,
        continuity,
        validation,
        *feature_assets(),
        optimization_problems,
        optimization,
        proposed_routes,
        compliance,
        trade_files,
        daily_report,
    ],
    OPERATIONS,
)


def _executor_requirements(config: Mapping[str, object]) -> Sequence[ExecutorRequirement]:
    """Steps outside the launching process need a reconstructable job, a persistent
    instance and stored outputs."""
    if ExecutorChoice.IN_PROCESS in config:
        return []
    return dg.multiple_process_executor_requirements()


@dg.executor(
    name="in_process_multiprocess_or_celery",
    config_schema=dg.Field(
        dg.Selector(
            {
                ExecutorChoice.IN_PROCESS.value: IN_PROC_CONFIG,
                ExecutorChoice.MULTIPROCESS.value: MULTI_PROC_CONFIG,
                ExecutorChoice.CELERY.value: dg.Field(dg.Permissive(), default_value={}),
            }
        ),
        # schedules and the UI: steps forked from the preloaded forkserver
        default_value={ExecutorChoice.MULTIPROCESS.value: MULTIPROCESS_CONFIG},
    ),
    requirements=_executor_requirements,
)
def pipeline_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """Dagster's own ``in_process`` and ``multiprocess`` executors (as
    ``multi_or_in_process_executor`` builds them) or dagster-celery's ``celery`` executor,
    which sends every step to Celery workers (docs/deployment.md). dagster-celery is an
    optional dependency (``uv sync --group distributed``), imported only when a run
    selects it."""
    if ExecutorChoice.CELERY in init_context.executor_config:
        return _celery_executor(init_context)
    return dg.multi_or_in_process_executor.executor_creation_fn(init_context)


def _celery_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """dagster-celery's executor, its config (broker, backend, config_source...) checked
    against its own schema."""
    try:
        from dagster_celery import celery_executor
    except ImportError:
        raise dg.DagsterInvariantViolationError(
            "the celery executor needs dagster-celery: uv sync --group distributed"
        ) from None

    given = init_context.executor_config[ExecutorChoice.CELERY]
    checked = process_config(celery_executor.config_schema.config_type, given)
    if not checked.success:
        raise dg.DagsterInvalidConfigError("Invalid celery executor config.", checked.errors, given)
    return celery_executor.executor_creation_fn(
        init_context._replace(executor_def=celery_executor, executor_config=checked.value)
    )


daily_job = dg.define_asset_job(
    JOB_NAME,
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.assets(custodian_drops.key, firm_files.key),
    description="Every stage of one business date: custodian files in, trade files out.",
    executor_def=pipeline_executor,
)

defs = dg.Definitions(
    assets=ASSETS,
    jobs=[daily_job],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"warehouse": WarehouseIOManager(), "book": BookSource(), "release": ReleaseMode()},
)
