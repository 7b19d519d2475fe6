"""Acceptance scenarios: the neutral YAML format turned into our own inputs and run."""

from rebalance_pipeline.scenario.expect import expectation_mismatches
from rebalance_pipeline.scenario.model import Scenario, ScenarioError, load_scenario
from rebalance_pipeline.scenario.result import run_scenario

__all__ = [
    "Scenario",
    "ScenarioError",
    "expectation_mismatches",
    "load_scenario",
    "run_scenario",
]
