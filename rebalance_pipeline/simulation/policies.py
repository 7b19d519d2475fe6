"""Each policy variant as the firm's own policy and model bands.

Every variant releases what it trades (review ``none`` in every group: the simulation
assumes reviewers approve) and keeps the book's mandates (cash requests, restrictions).
Accounts the trigger cannot trade on a day and without a mandate are not optimized
(``workflow.propose_untriggered: false``): their outcome is no trade either way.
The trigger is the workflow's own (``policy.workflow.trigger``), so no rule is restated:
- cost-benefit-decay: the default per-group thresholds that decay after a trade;
- cost-benefit-fixed: every group's threshold curve flat at ``fixed_threshold_bps``;
- calendar-*: ``trigger: calendar`` every 30 / 91 / 365 days since the last trade, bands
  wide open so only the calendar (and cash requests, restrictions) trades;
- band-*: ``trigger: bands`` (only mandates trade, the score path is off) with the class
  bands at target +- ``absolute_band`` or target x (1 +- ``relative_band``).
"""

from __future__ import annotations

import polars as pl

from rebalance_pipeline.generator.market import class_targets
from rebalance_pipeline.policy import Policy, ThresholdCurve
from rebalance_pipeline.simulation.config import SimulationConfig, Variant

CALENDAR_DAYS = {"calendar-monthly": 30, "calendar-quarterly": 91, "calendar-annual": 365}


def variant_policy(config: SimulationConfig, variant: Variant) -> Policy:
    base = Policy()
    groups = [group.model_copy(update={"review": "none"}) for group in base.account_groups]
    # an account the trigger cannot trade today gets no proposal: it could not be traded
    workflow = base.workflow.model_copy(update={"propose_untriggered": False})
    if variant.policy == "cost-benefit-fixed":
        flat = ThresholdCurve(
            start_bps=config.fixed_threshold_bps, floor_bps=config.fixed_threshold_bps
        )
        groups = [group.model_copy(update={"threshold": flat}) for group in groups]
    elif variant.policy in CALENDAR_DAYS:
        workflow = workflow.model_copy(
            update={"trigger": "calendar", "calendar_days": CALENDAR_DAYS[variant.policy]}
        )
    elif variant.policy.startswith("band-"):
        workflow = workflow.model_copy(update={"trigger": "bands"})
    swept = dict(variant.thresholds)
    groups = [
        group.model_copy(update={"threshold": swept[group.name]}) if group.name in swept else group
        for group in groups
    ]
    optimization = base.optimization.model_copy(update={"tax_aversion": variant.tax_aversion})
    return base.model_copy(
        update={"account_groups": groups, "workflow": workflow, "optimization": optimization}
    )


def variant_bands(
    config: SimulationConfig, variant: Variant, securities: pl.DataFrame
) -> pl.DataFrame:
    """tables.MODEL_BANDS of the variant: per model and asset class, the band around the
    class's target weight (wide open, 0 to 1, where the variant trades on no band)."""
    target = pl.col("target")
    if variant.policy in CALENDAR_DAYS:
        low, high = pl.lit(0.0), pl.lit(1.0)
    elif variant.policy == "band-relative":
        low, high = target * (1 - config.relative_band), target * (1 + config.relative_band)
    else:
        low, high = target - config.absolute_band, target + config.absolute_band
    return (
        class_targets(securities)
        .select(
            "model_id",
            "asset_class",
            min_weight=low.clip(0, 1).round(4),
            max_weight=high.clip(0, 1).round(4),
        )
        .sort("model_id", "asset_class")
    )
