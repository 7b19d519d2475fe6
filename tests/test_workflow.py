"""The in-memory chain of the stages (``workflow.run_stages``) over many dates in one
process, as the simulation runs it."""

from __future__ import annotations

import datetime as dt

from stage_books import account, at_target_lots, book, run

from rebalance_pipeline.book import CANONICAL_TABLES
from rebalance_pipeline.features import SQL_DIR, models, run_models
from rebalance_pipeline.generator import SAMPLE_DIR
from rebalance_pipeline.ingest import load_book
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation.validate import BOOK_MODELS, validation_models
from rebalance_pipeline.workflow import feature_inputs, run_stages, sql_models


def test_the_sql_models_are_read_once_per_process_not_once_per_date(monkeypatch):
    loaded = []
    load_model = models.load_model

    def counting(path):
        loaded.append(path)
        return load_model(path)

    monkeypatch.setattr(models, "load_model", counting)
    scenario = book([account("A1", at_target_lots("A1"))])
    first, second = run(scenario), run(scenario)
    assert len(loaded) <= len(list(SQL_DIR.glob("*.sql")))
    assert first.routing.decisions.equals(second.routing.decisions)


def test_the_models_validation_runs_read_the_canonical_tables_only():
    """The features stage takes validation's outputs of these models as they are: that
    holds only while they read nothing validation or another stage makes."""
    canonical = set(CANONICAL_TABLES)
    for model in validation_models():
        assert set(model.deps) <= canonical | set(BOOK_MODELS), model.name


def test_the_features_of_a_date_are_those_of_every_model_run_on_its_inputs():
    """A sample date with findings of many kinds: the features ``run_stages`` builds from
    validation's model outputs equal every model run afresh on the same inputs."""
    day = max(dt.date.fromisoformat(d.name) for d in (SAMPLE_DIR / "drops").glob("20*"))
    sample = load_book(SAMPLE_DIR, day, Policy().validation.lookback_business_days)
    policy = Policy()
    outputs = run_stages(sample, policy)
    afresh = run_models(feature_inputs(sample, outputs.validation), day, policy, sql_models())
    assert set(outputs.validation.book_models) == set(BOOK_MODELS)
    assert outputs.features.keys() == afresh.keys()
    for name, frame in afresh.items():
        assert outputs.features[name].equals(frame), name
