"""The desk's deadline as a Dagster freshness policy on the outputs the desk waits for.

The run for business day D happens on the morning after D (or overnight, when the drop
sensor sees every file), so the deadline falls Tuesday to Saturday at ``desk_deadline``
in the firm's time zone, and a materialization in the 24 hours before it is on time. The
cron knows no exchange holidays: the morning after a holiday shows the outputs as late.
The UI shows the policy on the asset pages; its pass/fail state needs ``freshness:
enabled: true`` in the instance's dagster.yaml (``rebalance run`` writes one with it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from rebalance_pipeline.operations.config import OperationsConfig

DESK_DEADLINE_ASSETS = frozenset({dg.AssetKey("trade_files"), dg.AssetKey("routing_decisions")})
# the mornings after Monday..Friday sessions
DEADLINE_WEEKDAYS = "2-6"


def desk_deadline_policy(config: OperationsConfig) -> dg.FreshnessPolicy:
    deadline = config.desk_deadline
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"{deadline.minute} {deadline.hour} * * {DEADLINE_WEEKDAYS}",
        lower_bound_delta=dt.timedelta(hours=24),
        timezone=config.timezone,
    )


def with_desk_deadline(
    assets: Sequence[dg.AssetsDefinition], config: OperationsConfig
) -> Sequence[dg.AssetsDefinition]:
    """``assets`` with the desk's deadline on the outputs in ``DESK_DEADLINE_ASSETS``."""
    policy = desk_deadline_policy(config)

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.key in DESK_DEADLINE_ASSETS:
            return dg.apply_freshness_policy(spec, policy)
        return spec

    return dg.map_asset_specs(apply, assets)
