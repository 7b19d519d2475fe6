"""The compliance stage: check the routed proposal, withhold every account that breaks a
rule, hand on the rest unchanged.

A violation withholds the whole account, released and queued trades alike: its route
becomes MANUAL with one ``compliance:<rule>`` reason per rule broken and a rule text that
names the rules and the trades. Withholding an account only removes trades, so it can
only lift a household's same-day wash-sale blocks, never add one: one pass leaves nothing
that breaks a rule (``release_compliance`` re-checks what leaves).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.compliance.facts import ComplianceInputs, RuleContext, trade_facts
from rebalance_pipeline.compliance.rules import RULES, find_violations
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.routing import reasons as r
from rebalance_pipeline.routing.route import RELEASED_TRADES, RoutingOutput, split_trades

WITHHELD_ROUTE = "MANUAL"
MESSAGES_IN_RULE = 3  # violations spelled out in the decision's rule text; all are stored


@dataclasses.dataclass(frozen=True)
class ComplianceOutput:
    routing: RoutingOutput  # the final decisions, released trades and review queue
    violations: pl.DataFrame  # rules.VIOLATIONS of the proposal


def proposal_of(decisions: pl.DataFrame, proposed_trades: pl.DataFrame) -> RoutingOutput:
    """Routing's proposal from its stored decisions and the optimizer's trades."""
    released, queue = split_trades(proposed_trades, decisions)
    return RoutingOutput(decisions=decisions, released_trades=released, review_queue=queue)


def violations_of(
    routed: RoutingOutput, inputs: ComplianceInputs, policy: Policy, as_of: dt.date
) -> pl.DataFrame:
    """VIOLATIONS of every released or queued trade of ``routed``."""
    trades = pl.concat(
        [
            routed.released_trades.select(RELEASED_TRADES.names()),
            routed.review_queue.select(RELEASED_TRADES.names()),
        ]
    )
    facts = trade_facts(trades, routed.decisions, inputs)
    return find_violations(RuleContext(facts, inputs, policy.optimization, as_of))


def apply_compliance(
    proposal: RoutingOutput, inputs: ComplianceInputs, policy: Policy, as_of: dt.date
) -> ComplianceOutput:
    """The proposal's violations and the routing that leaves once they are withheld."""
    violations = violations_of(proposal, inputs, policy, as_of)
    return ComplianceOutput(withhold(proposal, violations), violations)


def withhold(proposal: RoutingOutput, violations: pl.DataFrame) -> RoutingOutput:
    """``proposal`` with every account named in ``violations`` routed MANUAL and its
    trades out of the released trades and the review queue."""
    withheld = _withheld_accounts(violations)
    decided = proposal.decisions.join(withheld, on="account_id", how="left", maintain_order="left")
    hit = pl.col("compliance_reasons").is_not_null()
    decisions = decided.with_columns(
        pl.when(hit).then(pl.lit(WITHHELD_ROUTE)).otherwise("route").alias("route"),
        pl.when(hit).then("compliance_reasons").otherwise("reasons").alias("reasons"),
        pl.when(hit)
        .then(pl.format("withheld by compliance (proposed {}): {}: trade by hand", "route", "text"))
        .otherwise("rule")
        .alias("rule"),
        pl.when(hit).then(pl.lit(None, t.Utf8)).otherwise("review").alias("review"),
        pl.when(hit)
        .then(pl.lit([], pl.List(t.Utf8)))
        .otherwise("outlier_flags")
        .alias("outlier_flags"),
    )
    accounts = withheld.select("account_id")
    return RoutingOutput(
        decisions=t.conform(decisions, t.ROUTING_DECISIONS),
        released_trades=proposal.released_trades.join(accounts, on="account_id", how="anti"),
        review_queue=proposal.review_queue.join(accounts, on="account_id", how="anti"),
    )


def _withheld_accounts(violations: pl.DataFrame) -> pl.DataFrame:
    """account_id, compliance_reasons (sorted codes), text (the first violations)."""
    codes = {rule: r.compliance_code(rule) for rule in RULES}
    described = pl.format("{}: {}", "rule", "message")
    more = pl.len().cast(t.I64) - MESSAGES_IN_RULE
    coded = violations.with_columns(pl.col("rule").replace_strict(codes).alias("code"))
    return coded.group_by("account_id", maintain_order=True).agg(
        pl.col("code").unique().sort().alias("compliance_reasons"),
        pl.concat_str(
            described.head(MESSAGES_IN_RULE).str.join("; "),
            pl.when(more > 0).then(pl.format("; and {} more", more)).otherwise(pl.lit("")),
        ).alias("text"),
    )
