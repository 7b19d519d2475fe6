"""The compliance stage's asset checks, yielded by the compliance step itself.

``proposal_compliance`` reports what the engine proposed against the rules (it fails
whenever an account had to be withheld: the engine has a defect to look at);
``release_compliance`` re-runs the rules on what will leave and is blocking, so trade
files are never written while a violating trade remains.
"""

import datetime as dt

import dagster as dg
import polars as pl

from rebalance_pipeline.compliance.facts import ComplianceInputs
from rebalance_pipeline.compliance.stage import violations_of
from rebalance_pipeline.partitions import daily_check
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.routing.route import RoutingOutput

ACCOUNTS_LISTED = 50  # accounts named in the metadata; the count is always complete

COMPLIANCE_CHECKS = [
    daily_check(
        "proposal_compliance",
        asset="compliance_violations",
        description="The engine's released and queued trades break no pre-release rule; "
        "metadata: violations per rule and the accounts withheld.",
    ),
    daily_check(
        "release_compliance",
        asset="released_trades",
        blocking=True,
        description="The rules re-run on what will leave find nothing (blocks the trade files).",
    ),
]


def _result(asset: str, name: str, violations: pl.DataFrame, accounts: str) -> dg.AssetCheckResult:
    """Passed when ``violations`` is empty; metadata: violations per rule and the accounts
    (under the key ``accounts``) with their count."""
    named = violations["account_id"].unique().sort().to_list()
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=name,
        passed=violations.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "violations_per_rule": dict(violations.group_by("rule").len().sort("rule").rows()),
            accounts: named[:ACCOUNTS_LISTED],
            f"{accounts}_count": len(named),
        },
    )


def proposal_check_result(violations: pl.DataFrame) -> dg.AssetCheckResult:
    return _result("compliance_violations", "proposal_compliance", violations, "accounts_withheld")


def release_check_result(
    final: RoutingOutput, inputs: ComplianceInputs, policy: Policy, as_of: dt.date
) -> dg.AssetCheckResult:
    remaining = violations_of(final, inputs, policy, as_of)
    return _result("released_trades", "release_compliance", remaining, "accounts_violating")
