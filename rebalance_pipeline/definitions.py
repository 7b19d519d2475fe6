"""The one Dagster ``Definitions`` of the code location: every stage's assets and checks,
the daily job, and the resources. Stage wiring lives in each stage's ``assets.py``."""

from __future__ import annotations

import dagster as dg

from rebalance_pipeline.compliance.assets import compliance
from rebalance_pipeline.continuity.assets import continuity
from rebalance_pipeline.executors import MULTIPROCESS
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
    ],
    OPERATIONS,
)

daily_job = dg.define_asset_job(
    JOB_NAME,
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.assets(custodian_drops.key, firm_files.key),
    description="Every stage of one business date: custodian files in, trade files out.",
    config={"execution": {"config": MULTIPROCESS}},  # schedules and the UI: forkserver steps
)

defs = dg.Definitions(
    assets=ASSETS,
    jobs=[daily_job],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"warehouse": WarehouseIOManager(), "book": BookSource(), "release": ReleaseMode()},
)
