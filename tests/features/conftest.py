"""Fixtures of the feature tests: the shipped models and their outputs on features_book."""

from __future__ import annotations

import polars as pl
import pytest
from features_book import AS_OF, book_tables

from rebalance_pipeline.features import discover_models, run_models
from rebalance_pipeline.policy import Policy


@pytest.fixture(scope="session")
def models():
    return discover_models()


@pytest.fixture(scope="session")
def features(models) -> dict[str, pl.DataFrame]:
    return run_models(book_tables(), AS_OF, Policy(), models)
