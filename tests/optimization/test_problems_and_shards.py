"""Building problems, storing them, sharding households and reusing compiled problems."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest
from conftest import P_LOTS_SCALES, account, at_target_lots, build_inputs, lot, problems_for

from rebalance_pipeline.optimization import convex
from rebalance_pipeline.optimization.problem import problems_from_frame, problems_to_frame
from rebalance_pipeline.optimization.problem_table import build_problems
from rebalance_pipeline.optimization.risk import account_risk
from rebalance_pipeline.optimization.shards import (
    assign_shards,
    optimize_shard,
    shard_count,
    solve_one,
    split_into_shards,
)
from rebalance_pipeline.optimization.terms import Account
from rebalance_pipeline.policy import OptimizationPolicy, Policy


def household_book():
    accounts = [
        account(f"A{i:02d}", at_target_lots(f"A{i:02d}", scale), household=f"H{i // 3}")
        for i, scale in enumerate(P_LOTS_SCALES)
    ]
    accounts[1] = {**accounts[1], "registration": "roth"}
    return {"accounts": accounts}


def test_build_problem_reads_weights_lots_and_blocks():
    sale = {"account": "A", "date": dt.date(2026, 3, 6), "security": "SEC-TMKT", "side": "sell"}
    lots = [*at_target_lots("A"), lot("A-L-LOSS", "SEC-LCAP", 10, 5000.0)]
    [problem] = problems_for(accounts=[account("A", lots)], transactions=[sale],
                             cash_requests=[{"account": "A", "amount": 8000.0}])  # fmt: skip
    # universe: the model's five plus none held outside it, sorted
    assert problem.security_ids == ["SEC-BND2", "SEC-BOND", "SEC-INTL", "SEC-LCAP", "SEC-TMKT"]
    assert problem.total_value == 808000.0 + 1200.0
    assert problem.required_cash == 8000.0 and problem.account_value == 801200.0
    # TOTAL_US is blocked for buys (TMKT only here: TMK2 is not in the universe)
    assert problem.buy_blocked.tolist() == [False, False, False, False, True]
    loss = problem.lot_ids.index("A-L-LOSS")
    # 10 × 120 = 1,200 sold for a 5,000 basis: −3.1667 of gain per dollar
    assert np.isclose(problem.lot_gain_per_dollar[loss], 1 - 5000 / 1200)


def test_a_lot_is_long_term_only_when_held_more_than_one_year():
    """Over a leap day one year is 366 days: on 2024-03-01 a lot bought 2023-03-01 is held
    exactly one year (366 days) and is still short-term; one bought 2023-02-28 passed its
    anniversary (2024-02-28) and is long-term, and so is the first one a day later."""
    lots = [
        lot("A-ONE-YEAR", "SEC-TMKT", 10, 2000.0, "2023-03-01"),
        lot("A-ONE-YEAR-AND-TWO-DAYS", "SEC-TMKT", 10, 2000.0, "2023-02-28"),
    ]
    long_term = {}
    for as_of in (dt.date(2024, 3, 1), dt.date(2024, 3, 2)):
        [problem] = problems_for(accounts=[account("A", lots)], as_of=as_of)
        flags = zip(problem.lot_ids, problem.lot_long_term.tolist(), strict=True)
        long_term[as_of.isoformat()] = dict(flags)
    assert long_term == {
        "2024-03-01": {"A-ONE-YEAR": False, "A-ONE-YEAR-AND-TWO-DAYS": True},
        "2024-03-02": {"A-ONE-YEAR": True, "A-ONE-YEAR-AND-TWO-DAYS": True},
    }


def test_problems_round_trip_through_a_frame_exactly(tmp_path):
    problems = problems_for(**household_book())
    path = tmp_path / "problems.parquet"
    problems_to_frame(problems).write_parquet(path)
    again = problems_from_frame(pl.read_parquet(path))
    assert problems_to_frame(again).equals(problems_to_frame(problems))
    assert [p.lot_security.dtype for p in again] == [np.int64] * len(problems)
    policy = Policy()
    assert solve_one(again[1], policy)[1].equals(solve_one(problems[1], policy)[1])


def test_households_are_never_split_and_shards_are_deterministic():
    problems = problems_for(**household_book())
    shards = assign_shards(problems, 3)
    assert sorted(shards) == [0, 1, 2]
    homes = {}
    for shard, members in shards.items():
        for p in members:
            assert homes.setdefault(p.household_id, shard) == shard
    assert sum(len(m) for m in shards.values()) == len(problems)
    again = assign_shards(list(reversed(problems)), 3)
    assert {k: [p.account_id for p in v] for k, v in again.items()} == {
        k: [p.account_id for p in v] for k, v in shards.items()
    }
    # taxable accounts of a household first: A01 (roth) after A00 and A02
    home = shards[homes["H0"]]
    assert [p.account_id for p in home if p.household_id == "H0"] == ["A00", "A02", "A01"]


def test_shard_count_is_about_two_per_worker_with_enough_accounts_each():
    policy = Policy()
    assert shard_count(10_000, policy, workers=2) == 4
    assert shard_count(100_000, policy, workers=8) == 16
    assert shard_count(2_500, policy, workers=8) == 2
    assert shard_count(10, policy, workers=4) == 1
    small = Policy(optimization=OptimizationPolicy(accounts_per_shard=1))
    assert shard_count(10, small, workers=4) == 8


def test_optimize_shard_is_deterministic_and_fills_every_column():
    policy = Policy()
    problems = problems_for(**household_book())
    results, trades = optimize_shard(problems, policy)
    again, again_trades = optimize_shard(list(reversed(problems)), policy)
    assert results.drop("solve_seconds").equals(again.drop("solve_seconds"))
    assert trades.equals(again_trades)
    assert results["account_id"].to_list() == sorted(p.account_id for p in problems)
    # null only: notes, the market impact the policy does not model, gains of the roth,
    # the overrun of a gain budget the policy does not set, asset location outside households
    nulls = results.null_count().transpose(include_header=True, column_names=["nulls"])
    assert dict(nulls.filter(pl.col("nulls") > 0).iter_rows()) == {
        "status_detail": 3,
        "cost_market_impact_usd": 7,
        "realized_gain_st": 1,
        "realized_gain_lt": 1,
        "gain_budget_overrun_usd": 7,
        "benefit_location_usd": 7,
    }
    assert trades.filter(pl.col("side") == "sell")["lot_id"].null_count() == 0
    assert (
        trades.filter(pl.col("side") == "buy")["lot_id"].null_count()
        == trades.filter(pl.col("side") == "buy").height
    )


def test_problem_is_dpp_and_compiled_once_per_bucket():
    policy = Policy()
    problems = problems_for(**household_book())
    keys = {convex.bucket_key(p, policy) for p in problems}
    # 5 securities, one lot each, 3 classes
    assert keys == {(8, 1, 4, False, False, False, False)}
    bucket = convex.bucket_problem(keys.pop())
    assert bucket.problem.is_dpp()
    before = bucket.solves
    optimize_shard(problems, policy)
    assert bucket.solves - before >= len(problems)
    assert convex.bucket_problem((8, 1, 4, False, False, False, False)) is bucket


def test_bucket_sizes():
    assert [convex.bucket_size(n) for n in (0, 5, 8, 9, 64, 65, 120)] == [8, 8, 8, 16, 64, 96, 128]
    assert [convex.slot_size(n) for n in (1, 2, 3, 5, 8, 9)] == [1, 2, 4, 8, 8, 16]


def test_lots_take_consecutive_slots_of_their_security():
    lots = [lot("A-1", "SEC-TMKT", 10, 2000.0), lot("A-2", "SEC-BOND", 10, 800.0),
            lot("A-3", "SEC-TMKT", 10, 3000.0), lot("A-4", "SEC-TMKT", 5, 1000.0)]  # fmt: skip
    [problem] = problems_for(accounts=[account("A", lots)])
    # securities BND2, BOND, INTL, LCAP, TMKT = 0..4; TMKT has three lots: 4 slots each
    assert convex.bucket_key(problem, Policy())[1] == 4
    key = convex.bucket_key(problem, Policy())
    assert convex.layout(problem, key).lot_slot.tolist() == [16, 4, 17, 18]


def test_padding_does_not_change_the_solution():
    """The same account solved in a bigger bucket gives the same trades."""
    policy = Policy()
    [problem] = problems_for(accounts=[account("A", at_target_lots("A"), cash=40000.0)])
    solutions = []
    for key in [(8, 1, 4, False, False, False, False), (16, 4, 8, False, False, False, False)]:
        bucket = convex.BucketProblem(*key)
        bucket.set_values(Account(problem, policy, account_risk(problem, policy)), policy)
        solutions.append(bucket.solve("CLARABEL", "SCS"))
    small, large = solutions
    assert np.allclose(small.buy_weights, large.buy_weights[:8], atol=1e-6)
    assert np.allclose(large.buy_weights[5:], 0.0, atol=1e-7)
    # most of the 40,000 cash is invested (the last dollars buy less risk than 5 bps cost)
    assert 0.9 * 40000.0 / 848000.0 < small.buy_weights.sum() <= 40000.0 / 848000.0


def test_class_vols_are_estimated_from_the_price_history():
    """Daily log returns of +1% / -1% alternating: a 1% daily vol, 15.9% a year."""
    import datetime as dt
    import math

    from rebalance_pipeline import tables as t
    from rebalance_pipeline.optimization.problem_table import estimate_class_vols

    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(61)]
    closes = [100 * math.exp(0.01 * (i % 2)) for i in range(61)]
    history = t.conform(
        pl.DataFrame(
            {"price_date": days, "security_id": "S1", "close": closes, "custodian": "alder"}
        ),
        t.PRICES,
    )
    securities = t.conform(
        pl.DataFrame({"security_id": ["S1"], "asset_class": ["us_equity"]}), t.SECURITIES
    )
    short = estimate_class_vols(history.head(20), t.empty(t.PRICES), securities, Policy())
    assert short.is_empty()  # too few days: the policy's default applies
    vols = dict(estimate_class_vols(history, t.empty(t.PRICES), securities, Policy()).iter_rows())
    expected = 0.01 * math.sqrt(60 / 59) * math.sqrt(252)  # sample std of 60 returns of ±1%
    assert vols["us_equity"] == pytest.approx(expected, rel=1e-9)


def test_a_problem_table_splits_into_the_same_shards_as_its_problems():
    problems = problems_for(**household_book())
    by_problems = {
        shard: sorted(p.account_id for p in members)
        for shard, members in assign_shards(problems, 3).items()
        if members
    }
    by_table = {
        shard: sorted(part["account_id"].to_list())
        for shard, part in split_into_shards(problems_to_frame(problems), 3)
    }
    assert by_table == by_problems
    assert len(by_table) == 3


def test_only_a_raise_cash_account_compiles_the_cap_on_its_sales():
    [problem] = problems_for(accounts=[account("A", at_target_lots("A"), cash=40000.0)])
    raising = dataclasses.replace(problem, rebalance_type="raise_cash")
    assert convex.bucket_key(problem, Policy())[5] is False
    key = convex.bucket_key(raising, Policy())
    assert key[5] is True
    bucket = convex.bucket_problem(key)
    assert "sell_cap" in bucket.parameters
    assert bucket.problem.is_dpp()


def test_only_an_account_with_a_gain_budget_compiles_the_budget_constraint():
    [problem] = problems_for(accounts=[account("A", at_target_lots("A"), cash=40000.0)])
    budgeted = dataclasses.replace(problem, remaining_gain_budget_usd=1000.0)
    assert convex.bucket_key(problem, Policy())[6] is False
    key = convex.bucket_key(budgeted, Policy())
    assert key[6] is True
    bucket = convex.bucket_problem(key)
    assert {"lot_gain", "gain_room"} <= set(bucket.parameters)
    assert bucket.problem.is_dpp()


def test_accounts_without_lots_and_an_empty_table_round_trip():
    """Each row's arrays are cut at its own length: an account with no lots between two
    with lots keeps none of theirs, and an empty table has no problems."""
    accounts = [
        account("A", at_target_lots("A")),
        account("B", [], cash=50_000.0),
        account("C", at_target_lots("C", 0.5)),
    ]
    problems = problems_for(accounts=accounts)
    again = problems_from_frame(problems_to_frame(problems))
    assert [len(p.lot_ids) for p in again] == [len(p.lot_ids) for p in problems]
    assert again[1].lot_quantities.tolist() == [] and again[1].lot_security.tolist() == []
    assert again[2].lot_quantities.tolist() == problems[2].lot_quantities.tolist()
    assert problems_from_frame(problems_to_frame([])) == []


def test_blocks_change_a_copy_and_keep_its_derived_arrays_exact():
    loss_lot = lot("A-L-LOSS", "SEC-LCAP", 10, 5000.0)
    [problem] = problems_for(accounts=[account("A", [*at_target_lots("A"), loss_lot])])
    before = problem.lot_gain_per_dollar  # computed (and kept) before the blocks
    group = problem.identical_groups[problem.security_ids.index("SEC-LCAP")]
    blocked = problem.with_blocks({group}, {group})
    loss = problem.lot_ids.index("A-L-LOSS")
    assert not problem.buy_blocked.any() and not problem.lot_loss_sale_blocked.any()
    assert blocked.buy_blocked.tolist() == [g == group for g in problem.identical_groups]
    assert np.flatnonzero(blocked.lot_loss_sale_blocked).tolist() == [loss]
    fresh = dataclasses.replace(blocked)  # nothing derived carried over
    for name in ("lot_prices", "lot_market_values", "lot_gain_per_dollar", "lot_tax_rates"):
        assert getattr(blocked, name).tolist() == getattr(fresh, name).tolist()
    assert blocked.lot_gain_per_dollar is before
    assert blocked.factor_classes == fresh.factor_classes
    assert blocked.lot_rank.tolist() == fresh.lot_rank.tolist()


def test_the_trades_name_lots_and_gains_only_where_they_apply():
    """Buys name no lot and no gain; sells name their lot, and a gain only in a taxable
    account, where the trades' gains add up to the result's realized gains."""
    policy = Policy()
    accounts = [
        account("T", [*at_target_lots("T", 1.5), lot("T-L-LOSS", "SEC-LCAP", 10, 5000.0)]),
        account("R", at_target_lots("R", 1.5), cash=500_000.0, registration="roth"),
    ]
    problems = problems_for(policy, accounts=accounts)
    problems = [dataclasses.replace(p, targets=p.targets[::-1].copy()) for p in problems]
    results, trades = optimize_shard(problems, policy)
    buys, sells = trades.filter(pl.col("side") == "buy"), trades.filter(pl.col("side") == "sell")
    assert buys.height and sells.height and set(sells["account_id"]) == {"T", "R"}
    assert buys["lot_id"].is_null().all() and buys["realized_gain"].is_null().all()
    assert sells["lot_id"].is_not_null().all()
    taxable = sells.filter(pl.col("account_id") == "T")
    assert taxable["realized_gain"].is_not_null().all()
    assert sells.filter(pl.col("account_id") == "R")["realized_gain"].is_null().all()
    result = results.filter(pl.col("account_id") == "T").row(0, named=True)
    realized = result["realized_gain_st"] + result["realized_gain_lt"]
    assert taxable["realized_gain"].sum() == pytest.approx(realized)
    assert (trades["amount"] == trades["quantity"] * trades["price"]).all()


def test_a_later_row_of_a_repeated_target_or_close_corrects_the_earlier():
    features, canonical = build_inputs(accounts=[account("A", at_target_lots("A"))])
    first_target = canonical["model_targets"].head(1)
    security = first_target["security_id"][0]
    canonical["model_targets"] = pl.concat(
        [canonical["model_targets"], first_target.with_columns(target_weight=pl.lit(0.5))]
    )
    first_close = features["security_prices"].filter(pl.col("security_id") == security)
    features["security_prices"] = pl.concat(
        [features["security_prices"], first_close.with_columns(close=pl.col("close") * 2)]
    )

    [problem] = build_problems(features, canonical, Policy())

    position = problem.security_ids.index(security)
    assert problem.targets[position] == 0.5
    assert problem.prices[position] == first_close["close"][0] * 2
