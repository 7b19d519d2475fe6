"""Model discovery: names, dependencies read with sqlglot, lineage, and load-time errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline.features import (
    CONTEXT_TABLES,
    SqlModelError,
    discover_models,
    load_model,
    run_model,
    run_models,
)
from rebalance_pipeline.policy import Policy

AS_OF = dt.date(2026, 3, 16)

SHIPPED_DEPS = {
    "active_halts": ("halts",),
    "active_holds": ("holds",),
    "account_valuations": (
        "account_positions",
        "account_status",
        "accounts",
        "cash_balances",
        "security_prices",
    ),
    "asset_class_drift": (
        "account_valuations",
        "holdings",
        "model_bands",
        "model_targets",
        "securities",
    ),
    "days_since_trade": ("accounts", "transactions"),
    "account_positions": ("lots", "positions"),
    "untradable_securities": ("data_quality_issues",),
    "holdings": ("account_positions", "account_valuations", "securities", "security_prices"),
    "mandates": ("asset_class_drift", "cash_requests", "holdings", "restricted_securities"),
    "restricted_securities": ("accounts", "restrictions", "securities"),
    "security_prices": ("data_quality_issues", "prices"),
    "tax_lots": ("lots", "securities", "security_prices"),
    "sell_gains": ("lots", "sold_lots", "transactions"),
    "gain_budgets": ("account_valuations", "accounts", "sell_gains"),
    "transition_progress": (
        "account_positions",
        "account_valuations",
        "accounts",
        "gain_budgets",
        "model_targets",
        "security_prices",
        "sell_gains",
    ),
    "wash_sale_windows": ("accounts", "securities", "sell_gains", "transactions"),
}


def write(directory: Path, name: str, sql: str) -> Path:
    path = directory / f"{name}.sql"
    path.write_text(sql)
    return path


def test_shipped_models_and_their_deps(models):
    assert {model.name: model.deps for model in models} == SHIPPED_DEPS


def test_models_come_after_the_models_they_read(models):
    position = {model.name: index for index, model in enumerate(models)}
    for model in models:
        for dep in model.deps:
            if dep in position:
                assert position[dep] < position[model.name], (dep, model.name)


def test_column_lineage_traces_through_other_models(models):
    lineage = {model.name: model.column_lineage for model in models}
    assert lineage["tax_lots"]["unrealized_gain"] == (
        "lots.cost_basis",
        "lots.quantity",
        "security_prices.close",
    )
    assert lineage["mandates"]["amount"] == ("cash_requests.amount",)
    assert lineage["account_valuations"]["account_group"] == ("policy_account_groups.name",)


def test_a_new_sql_file_is_a_model_with_its_tables_as_deps(tmp_path):
    write(
        tmp_path,
        "big_cash",
        """
        with per_account as (select account_id, sum(cash) as cash from cash_balances
                             group by account_id)
        select a.account_id, p.cash
        from accounts as a join per_account as p on a.account_id = p.account_id
        cross join run_context
        where p.cash > 100 and a.opened_date <= run_context.as_of
        order by a.account_id
        """,
    )
    [model] = discover_models(tmp_path)
    # the CTE and the context table are not deps
    assert (model.name, model.deps) == ("big_cash", ("accounts", "cash_balances"))
    assert model.column_lineage["cash"] == ("cash_balances.cash",)

    inputs = {
        "accounts": pl.DataFrame(
            {"account_id": ["X", "Y"], "opened_date": [AS_OF, dt.date(2026, 3, 17)]}
        ),
        "cash_balances": pl.DataFrame({"account_id": ["X", "X", "Y"], "cash": [60.0, 50.0, 500.0]}),
    }
    result = run_model(model, inputs, AS_OF, Policy())
    assert result.rows() == [("X", 110.0)]


def test_a_table_macro_call_reads_the_tables_it_is_given(tmp_path):
    write(
        tmp_path,
        "gains_this_year",
        """
        with this_year as (
            select a.account_id, make_date(2026, 1, 1) as first_day, ctx.as_of as last_day
            from accounts as a cross join run_context as ctx
        )
        select g.account_id, g.realized_gain
        from realized_gains(sell_gains, this_year) as g
        """,
    )
    [model] = discover_models(tmp_path)
    # the macro's SELECT stands in for the call: its sells are a dependency and a source
    assert model.deps == ("accounts", "sell_gains")
    assert model.column_lineage["realized_gain"] == ("sell_gains.realized_gain",)


def test_a_model_is_parsed_once_per_process_until_its_file_changes(tmp_path, monkeypatch):
    import sqlglot.lineage

    lineages = []
    monkeypatch.setattr(
        sqlglot.lineage,
        "lineage",
        lambda *args, **kwargs: lineages.append(args) or {},
    )
    path = write(tmp_path, "cash", "select c.cash from cash_balances as c")
    first = load_model(path)
    # validation loads the models the definitions loaded: the same model, not parsed again
    assert discover_models(tmp_path) == [first]
    assert len(lineages) == 1
    write(tmp_path, "cash", "select c.account_id from cash_balances as c")
    assert load_model(path) != first
    assert len(lineages) == 2


def test_lineage_failure_does_not_stop_discovery(tmp_path, monkeypatch):
    import sqlglot.lineage

    def fail(*args, **kwargs):
        raise sqlglot.errors.OptimizeError("cannot resolve")

    monkeypatch.setattr(sqlglot.lineage, "lineage", fail)
    write(tmp_path, "anything", "select a.x from some_new_table as a")
    [model] = discover_models(tmp_path)
    assert (model.deps, model.column_lineage) == (("some_new_table",), {})


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select account_id from accounts where (", "cannot parse"),
        ("select 'unterminated from accounts", "cannot parse"),
        ("", "no SQL statement"),
        ("-- only a comment\n", "no SQL statement"),
        ("create table x as select 1", "must be a SELECT"),
        ("delete from accounts", "must be a SELECT"),
        ("select 1; select 2", "one SELECT"),
        ("select * from realized_gains(sell_gains)", "realized_gains takes 2 tables, given 1"),
    ],
)
def test_bad_sql_files_fail_at_discovery_naming_the_file(tmp_path, sql, message):
    path = write(tmp_path, "broken", sql)
    write(tmp_path, "fine", "select 1 as one")
    with pytest.raises(SqlModelError, match=message) as error:
        discover_models(tmp_path)
    assert str(path) in str(error.value)


def test_a_cycle_between_models_names_them(tmp_path):
    write(tmp_path, "left_side", "select x from right_side")
    write(tmp_path, "right_side", "select x from left_side")
    write(tmp_path, "apart", "select x from accounts")
    with pytest.raises(SqlModelError, match="cycle") as error:
        discover_models(tmp_path)
    assert "left_side" in str(error.value) and "right_side" in str(error.value)
    assert "apart" not in str(error.value)


def test_a_missing_input_names_the_model_and_the_table(models):
    [valuations] = [model for model in models if model.name == "account_valuations"]
    with pytest.raises(SqlModelError, match=r"account_valuations.*account_status"):
        run_model(valuations, {"accounts": pl.DataFrame()}, AS_OF, Policy())


def test_a_sql_error_at_run_time_names_the_model(tmp_path):
    write(tmp_path, "wrong_column", "select no_such_column from accounts")
    [model] = discover_models(tmp_path)
    with pytest.raises(SqlModelError, match="wrong_column"):
        run_model(model, {"accounts": pl.DataFrame({"account_id": ["A"]})}, AS_OF, Policy())


def test_run_models_feeds_outputs_forward_whatever_the_given_order(tmp_path):
    write(tmp_path, "doubled", "select account_id, 2 * cash as cash from base order by 1")
    write(tmp_path, "base", "select account_id, cash from cash_balances order by 1")
    models = discover_models(tmp_path)
    outputs = run_models(
        {"cash_balances": pl.DataFrame({"account_id": ["A"], "cash": [5.0]})},
        AS_OF,
        Policy(),
        list(reversed(models)),
    )
    assert set(outputs) == {"base", "doubled"}
    assert outputs["doubled"].rows() == [("A", 10.0)]


def test_context_tables_are_available_to_every_model(tmp_path):
    write(
        tmp_path,
        "groups",
        "select g.name, g.ordinal, c.as_of from policy_account_groups as g, run_context as c "
        "order by g.ordinal",
    )
    [model] = discover_models(tmp_path)
    assert model.deps == ()
    result = run_model(model, {}, AS_OF, Policy())
    assert result.rows() == [("small", 0, AS_OF), ("mid", 1, AS_OF), ("uhnw", 2, AS_OF)]
    assert set(CONTEXT_TABLES) == {"run_context", "policy_account_groups"}
