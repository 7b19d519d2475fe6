""" "Active on a date" (holds, halts, effective-dated rows, wash-sale windows): start <= D
and (end is null or D <= end), one definition for SQL and Python alike."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from rebalance_pipeline import tables as t
from rebalance_pipeline.features import run_models
from rebalance_pipeline.features.macros import active_on, create_macros
from rebalance_pipeline.policy import Policy

D = dt.date(2026, 3, 16)
DAY = dt.timedelta(days=1)

# (name, start, end, active on D)
BOUNDARIES = [
    ("starts_on_the_date", D, D + 5 * DAY, True),
    ("ends_on_the_date", D - 5 * DAY, D, True),
    ("one_day_only", D, D, True),
    ("open_ended", D - 5 * DAY, None, True),
    ("open_ended_from_the_date", D, None, True),
    ("ended_the_day_before", D - 5 * DAY, D - DAY, False),
    ("starts_the_day_after", D + DAY, None, False),
    ("no_start", None, D + 5 * DAY, False),
]
ACTIVE = sorted(name for name, *_, active in BOUNDARIES if active)


def windows(key: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            key: [b[0] for b in BOUNDARIES],
            "start_date": [b[1] for b in BOUNDARIES],
            "end_date": [b[2] for b in BOUNDARIES],
            "reason": "test",
        },
        schema_overrides={"start_date": pl.Date, "end_date": pl.Date},
    )


def test_the_macro_at_its_boundaries():
    with duckdb.connect() as connection:
        create_macros(connection)
        for name, start, end, expected in BOUNDARIES:
            (active,) = connection.execute(
                "select coalesce(active_on($start, $end, $as_of), false)",
                {"start": start, "end": end, "as_of": D},
            ).fetchone()
            assert active is expected, name


@pytest.mark.parametrize(
    ("model", "key"), [("active_holds", "account_id"), ("active_halts", "security_id")]
)
def test_holds_and_halts_in_force_include_open_ended_ones(models, model, key):
    table = "holds" if model == "active_holds" else "halts"
    frame = t.conform(windows(key), getattr(t, table.upper()))
    (sql_model,) = [m for m in models if m.name == model]
    output = run_models({table: frame}, D, Policy(), [sql_model])[model]
    assert output[key].to_list() == ACTIVE


def test_python_applies_the_same_rule_to_a_frame():
    frame = windows("name").with_row_index("order")
    active = active_on(frame, D)
    assert sorted(active["name"]) == ACTIVE
    assert active["order"].is_sorted()  # row order kept
    assert active.schema == frame.schema


def test_python_rule_with_other_column_names_and_no_end_column():
    frame = windows("name").rename({"start_date": "effective_from", "end_date": "effective_to"})
    by_name = active_on(frame, D, start="effective_from", end="effective_to")
    assert sorted(by_name["name"]) == ACTIVE
    starts_only = active_on(frame.drop("effective_to"), D, start="effective_from", end=None)
    assert sorted(starts_only["name"]) == sorted(
        name for name, start, _, _ in BOUNDARIES if start is not None and start <= D
    )
