"""Compliance: every released or queued trade re-checked against the firm's rules before
it leaves, independently of the optimizer that proposed it and of routing.

``rules`` holds the rules (one function each, on Polars frames), ``stage`` the stage:
the proposal's violations and the routing that leaves once the violating accounts are
withheld (MANUAL, ``compliance:<rule>`` reasons). ``assets`` is the Dagster wiring.
"""

from rebalance_pipeline.compliance.facts import VIOLATIONS, ComplianceInputs
from rebalance_pipeline.compliance.rules import RULES
from rebalance_pipeline.compliance.stage import (
    ComplianceOutput,
    apply_compliance,
    proposal_of,
    violations_of,
    withhold,
)

__all__ = [
    "RULES",
    "VIOLATIONS",
    "ComplianceInputs",
    "ComplianceOutput",
    "apply_compliance",
    "proposal_of",
    "violations_of",
    "withhold",
]
