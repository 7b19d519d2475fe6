"""Compliance wiring: the final routing decisions, released trades and review queue, the
proposal's violations, and the two compliance checks (one step for all of them)."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from rebalance_pipeline.compliance.checks import COMPLIANCE_CHECKS
from rebalance_pipeline.compliance.facts import ComplianceInputs
from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource

GROUP = "compliance"
COMPLIANCE_INS = (
    "proposed_routes",
    "proposed_trades",
    "optimization_results",
    *ComplianceInputs.table_names(),
)


def _out(description: str) -> dg.AssetOut:
    return dg.AssetOut(io_manager_key="warehouse", group_name=GROUP, description=description)


@dg.multi_asset(
    outs={
        "routing_decisions": _out(
            "Route, reasons, rule, score vs threshold and review level per account: routing's "
            "proposal, with accounts whose trades break a pre-release rule withheld (MANUAL)."
        ),
        "released_trades": _out(
            "Trades of MANDATE/SCORE accounts that need no review and pass compliance: "
            "released now."
        ),
        "review_queue": _out(
            "Trades that pass compliance waiting for a reviewer (`rebalance review --date D`)."
        ),
        "compliance_violations": _out(
            "One row per pre-release rule a proposed trade breaks (account, rule, security, "
            "side, lot, message); the account's trades were withheld."
        ),
    },
    ins={name: dg.AssetIn(key=name) for name in COMPLIANCE_INS},
    partitions_def=business_day_partitions(),
    check_specs=COMPLIANCE_CHECKS,
    can_subset=False,
)
def compliance(
    context: dg.AssetExecutionContext, book: BookSource, **inputs: pl.DataFrame
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Every released or queued trade re-checked against the rules (compliance/rules.py)."""
    from rebalance_pipeline.compliance.checks import proposal_check_result, release_check_result
    from rebalance_pipeline.compliance.stage import apply_compliance, proposal_of
    from rebalance_pipeline.reporting.summary import summary_report

    as_of = partition_date(context.partition_key)
    policy = book.policy(as_of)
    tables = ComplianceInputs.from_tables(inputs)
    proposal = proposal_of(inputs["proposed_routes"], inputs["proposed_trades"])
    checked = apply_compliance(proposal, tables, policy, as_of)
    final = checked.routing
    decisions = final.decisions
    per_route = dict(decisions.group_by("route").len().sort("route").rows())
    per_review = dict(decisions.drop_nulls("review").group_by("review").len().sort("review").rows())
    summary = summary_report(decisions, final.released_trades, inputs["optimization_results"])
    yield dg.Output(
        decisions,
        output_name="routing_decisions",
        metadata={
            "accounts_per_route": per_route,
            "accounts_per_review": per_review,
            "summary": dg.MetadataValue.md(f"```\n{summary}\n```"),
        },
    )
    yield dg.Output(
        final.released_trades,
        output_name="released_trades",
        metadata={"turnover_usd": float(final.released_trades["amount"].sum())},
    )
    yield dg.Output(final.review_queue, output_name="review_queue")
    yield dg.Output(
        checked.violations,
        output_name="compliance_violations",
        metadata={"accounts_withheld": checked.violations["account_id"].n_unique()},
    )
    yield proposal_check_result(checked.violations)
    yield release_check_result(final, tables, policy, as_of)
