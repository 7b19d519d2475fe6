"""The withdrawal book (the acceptance book p03's data) and its policy."""

from __future__ import annotations

import pytest
from continuity_days import P03

from rebalance_pipeline.book import Book
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.scenario.adapter import scenario_book, scenario_policy
from rebalance_pipeline.scenario.model import load_scenario


@pytest.fixture(scope="session")
def p03() -> tuple[Book, Policy]:
    scenario = load_scenario(P03)
    return scenario_book(scenario), scenario_policy(scenario)
