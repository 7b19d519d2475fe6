"""The in-memory chain of the stages (``workflow.run_stages``) over many dates in one
process, as the simulation runs it."""

from __future__ import annotations

from stage_books import account, at_target_lots, book, run

from rebalance_pipeline.features import SQL_DIR, models


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
