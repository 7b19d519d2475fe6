"""explain: the decision chain of one account from the stored artifacts of a date."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from stored_date import (
    BELOW,
    DAY,
    HELD,
    MANUAL,
    REVIEWED,
    SUSPENDED,
    TRADED,
    write_stored_date,
)

from rebalance_pipeline import storage
from rebalance_pipeline import tables as t
from rebalance_pipeline.audit import AuditError, Explanation, explain
from rebalance_pipeline.policy import Policy

CHAIN = [
    "sources",
    "data_quality",
    "features",
    "optimizer",
    "threshold",
    "routing",
    "trades",
    "counterfactual",
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("home")
    write_stored_date(root)
    return root


@pytest.fixture(scope="module")
def batch_id(home: Path) -> str:
    return storage.read_partition("trade_files", DAY, home)["batch_id"][0]


def text_of(home: Path, account: str) -> tuple[Explanation, dict[str, str]]:
    explanation = explain(account, DAY, home, Policy())
    assert [section.key for section in explanation.sections] == CHAIN
    return explanation, {s.key: "\n".join(s.lines) for s in explanation.sections}


def test_traded_account_shows_every_link(home: Path, batch_id: str) -> None:
    explanation, text = text_of(home, TRADED)
    assert "custodian alpha: 2 files" in text["sources"]
    assert "a" * 64 in text["sources"] and "b" * 64 in text["sources"]
    assert "c" * 64 not in text["sources"]  # the other custodian's file
    assert "status ok" in text["data_quality"]
    assert "warning stale_price" in text["data_quality"]
    assert "malformed_number" not in text["data_quality"]  # a finding of another account
    features = text["features"]
    assert "total value $500,000.00, cash $20,000.00, group small" in features
    assert "us_equity: 62.0% vs target 55.0% band [50.0%, 60.0%] BREACH above" in features
    assert "2 tax lots (1 at a loss): unrealized short-term -$100.00, long-term $300.00" in features
    assert "A-TRADE-L1 SEC-A 5 sh, gain -$100.00, short-term (40 days)" in features
    assert "A-TRADE-L2 SEC-B 2.5 sh, gain $300.00, long-term (500 days)" in features
    assert "1 active wash-sale windows in household H1" in features
    assert "(from A-SUSP T-ACTIVE, gain: from the lot's cost basis)" in features
    assert "T-OTHER-HOUSEHOLD" not in features
    assert "band_breach (normal): us_equity 62.0% above [50%, 60%]" in features
    optimizer = text["optimizer"]
    assert "solve optimal" in optimizer
    assert "score $1,500.00 = 30.0 bps of $500,000.00" in optimizer
    assert "tracking error 2.0% -> 0.5%" in optimizer
    assert "cash $20,000.00 -> $5,000.00" in optimizer
    assert "score 30.0 bps vs threshold 15.0 bps" in text["threshold"]
    assert "never traded, so its floor 15 bps" in text["threshold"]
    assert "route MANDATE: mandate: band breach" in text["routing"]
    assert "review policy none -> review auto" in text["routing"]
    trades = explanation.section("trades")
    assert trades.data["batch_id"] == batch_id
    assert f"batch {batch_id}: 2 rows of the account" in text["trades"]
    assert "sell 5 SEC-A @ 100.0000 lot A-TRADE-L1 (band_breach_normal, auto)" in text["trades"]
    assert "buy 10 SEC-B @ 50.00" in text["trades"]
    assert "15.0 bps over the threshold 15.0 bps" in text["counterfactual"]


def test_suspended_account_is_not_optimized(home: Path) -> None:
    _, text = text_of(home, SUSPENDED)
    assert "status suspended (malformed_number)" in text["data_quality"]
    assert (
        "cost_basis '12,3.4x' is not a valid number [drops/alpha/lots.csv:4]"
        in (text["data_quality"])
    )
    assert text["optimizer"].startswith("not optimized: suspended")
    assert text["threshold"] == "not compared: suspended"
    assert "route SUSPENDED" in text["routing"]
    assert "reasons: bad_data, data:malformed_number" in text["routing"]
    assert "no trades: route SUSPENDED" in text["trades"]
    assert text["counterfactual"].startswith("SUSPENDED: no score comparison")


def test_held_account_names_its_hold(home: Path) -> None:
    _, text = text_of(home, HELD)
    assert "active hold 2026-03-11..2026-03-21: client request" in text["features"]
    assert "active hold 2026-02-04..open-ended: estate settlement" in text["features"]
    assert text["optimizer"].startswith("not optimized: hold")
    assert "route HOLD: active hold: client request" in text["routing"]
    assert "no trades: route HOLD" in text["trades"]


def test_below_threshold_account_shows_the_decayed_threshold(home: Path) -> None:
    _, text = text_of(home, BELOW)
    assert "days since: 30" in text["features"]
    # 15 + 135 * exp(-30 / 60) = 96.88
    assert "15 + (150 - 15) * exp(-30 / 60) = 96.9 bps" in text["threshold"]
    assert "score 40.0 bps vs threshold 96.9 bps" in text["threshold"]
    assert "route NO_TRADE" in text["routing"]
    assert "no trades: route NO_TRADE" in text["trades"]
    # 60 * ln(135 / 25) = 101.2 days -> 72 calendar days after the 30 already passed:
    # 2026-05-27, 52 weekdays later less Good Friday and Memorial Day
    assert "falls below the score in 50 business days" in text["counterfactual"]


def test_manual_account_shows_the_manual_queue(home: Path) -> None:
    _, text = text_of(home, MANUAL)
    assert "error unknown_security" in text["data_quality"]
    assert (
        "in the manual queue: $50,000.00 due 2026-03-16, cash available $1,000.00"
        in (text["data_quality"])
    )
    assert text["threshold"] == "not compared: manual"
    assert "route MANUAL" in text["routing"]
    assert "no trades: route MANUAL" in text["trades"]


def test_reviewed_account_shows_its_review_queue_rows(home: Path, batch_id: str) -> None:
    _, text = text_of(home, REVIEWED)
    assert "review policy outliers -> review review (outlier flags: turnover)" in text["routing"]
    assert f"batch {batch_id}: 0 rows of the account" in text["trades"]
    assert "1 trades went to the review queue" in text["trades"]
    assert "buy 40 SEC-A (decision pending)" in text["trades"]


def test_text_has_one_numbered_section_per_link(home: Path) -> None:
    text = explain(TRADED, DAY, home, Policy()).to_text()
    assert text.startswith(f"Why {TRADED} did or did not trade on 2026-03-16\n")
    assert "\n1. Source files\n" in text and "\n8. Counterfactual\n" in text


def test_json_round_trips(home: Path) -> None:
    for account in (TRADED, SUSPENDED, BELOW):
        record = explain(account, DAY, home, Policy()).to_dict()
        text = json.dumps(record, sort_keys=True)
        again = Explanation.from_dict(json.loads(text))
        assert again.to_dict() == record
        assert again.day == DAY and again.account_id == account
    decision = record["sections"][CHAIN.index("routing")]["data"]["decision"]
    assert decision["days_since_last_trade"] == 30


def test_same_artifacts_give_the_same_bytes(home: Path) -> None:
    first = json.dumps(explain(TRADED, DAY, home, Policy()).to_dict(), sort_keys=True)
    second = json.dumps(explain(TRADED, DAY, home, Policy()).to_dict(), sort_keys=True)
    assert first == second


def test_unknown_account_is_a_clear_error(home: Path) -> None:
    with pytest.raises(AuditError, match="unknown account 'NOPE' on 2026-03-16"):
        explain("NOPE", DAY, home, Policy())


def test_date_not_materialized_is_a_clear_error(home: Path) -> None:
    with pytest.raises(AuditError, match=r"2026-03-13 is not materialized.*2026-03-16"):
        explain(TRADED, dt.date(2026, 3, 13), home, Policy())


def test_a_missing_optimizer_table_is_said_not_raised(tmp_path: Path) -> None:
    write_stored_date(tmp_path)
    storage.partition_file("optimization_results", DAY, tmp_path).unlink()
    section = explain(TRADED, DAY, tmp_path, Policy()).section("optimizer")
    assert section.lines == [
        "optimizer inputs stored: yes",
        "optimization_results is not stored for 2026-03-16",
    ]
    assert dataclasses.asdict(section)["data"]["result"] is None


def _stored_problem_of(book: str, account: str) -> pl.DataFrame:
    """The stored problem row ``account`` of a scenario book gets on its date."""
    from rebalance_pipeline.optimization.problem_table import build_problem_table
    from rebalance_pipeline.scenario.adapter import scenario_book, scenario_policy
    from rebalance_pipeline.scenario.model import load_scenario
    from rebalance_pipeline.workflow import run_stages

    scenario = load_scenario(Path(__file__).parents[1] / "scenario" / book)
    scenario_data, policy = scenario_book(scenario), scenario_policy(scenario)
    features = run_stages(scenario_data, policy).features
    table = build_problem_table(features, scenario_data.tables(), policy)
    return table.filter(pl.col("account_id") == account)


def _optimizer_text(home: Path, book: str, account: str) -> str:
    """The optimizer section of TRADED on a stored date whose stored problem is the one
    ``account`` of the scenario ``book`` gets."""
    write_stored_date(home)
    problem = _stored_problem_of(book, account).with_columns(account_id=pl.lit(TRADED))
    storage.write_partition(problem, "optimization_problems", DAY, home)
    return "\n".join(explain(TRADED, DAY, home, Policy()).section("optimizer").lines)


@pytest.mark.parametrize(
    ("account", "line"),
    [
        # 800 TMKT at $250 bought for $198,000, long-term 10 days after the date
        ("AD", "long-term deferral (30 days): kept AD-L-TMKT (10 days to long-term, "
               "gain $2,000.00 kept unrealized)"),
        ("AC", "long-term deferral (30 days) lifted: the due cash requests ($60,000.00) "
               "cannot be met without lots AC-L-TMKT"),
    ],
)  # fmt: skip
def test_explain_shows_the_long_term_deferral(tmp_path: Path, account: str, line: str) -> None:
    assert line in _optimizer_text(tmp_path, "long_term_deferral.yaml", account)


def test_explain_shows_the_rebalance_type_and_what_it_forbade(tmp_path: Path) -> None:
    text = _optimizer_text(tmp_path, "rebalance_types.yaml", "AX")
    assert "rebalance type buy_only: invests cash, never sells" in text
    assert "no sale of lots AX-L-BOND, AX-L-INTL, AX-L-TMKT, AX-L-TOBC" in text
    assert "restricted SEC-TOBC (AX-L-TOBC) kept: its sale is up to a person" in text


def test_explain_shows_the_gain_budget_and_what_is_left(tmp_path: Path) -> None:
    """GL's $8,000 budget, extended by the $20,000 loss it harvested in February."""
    text = _optimizer_text(tmp_path, "gain_budget.yaml", "GL")
    assert (
        "gain budget $8,000.00 for the year: used -$20,000.00 (net realized gains so far), "
        "remaining $28,000.00" in text
    )


def test_explain_shows_today_s_gains_and_the_overrun_of_the_budget(tmp_path: Path) -> None:
    write_stored_date(tmp_path)
    results = storage.read_partition("optimization_results", DAY, tmp_path)
    overrun = pl.when(pl.col("account_id") == TRADED).then(5_050.0)
    results = results.with_columns(
        realized_gain_lt=pl.lit(10_050.0), gain_budget_overrun_usd=overrun
    )
    storage.write_partition(results, "optimization_results", DAY, tmp_path)
    text = "\n".join(explain(TRADED, DAY, tmp_path, Policy()).section("optimizer").lines)
    assert (
        "gain budget: today's net realized gains $9,950.00, over the remaining budget by "
        "$5,050.00 (gain_budget_overrun)" in text
    )


def test_explain_shows_the_transition_s_progress(tmp_path: Path) -> None:
    write_stored_date(tmp_path)
    progress = pl.DataFrame(
        [
            (TRADED, dt.date(2026, 1, 2), 450_000.0, 414_090.0, 35_800.0, 0.9202, 19_762.9,
             False, 20_000.0, 237.1),
        ],
        schema=t.TRANSITION_PROGRESS,
        orient="row",
    )  # fmt: skip
    storage.write_partition(progress, "transition_progress", DAY, tmp_path)
    _, text = text_of(tmp_path, TRADED)
    assert (
        "in transition since 2026-01-02: 92.0% in model securities, $35,800.00 outside the "
        "model left; net gains realized since the start $19,762.90 (only the sells the "
        "loaded history shows), gain budget left $237.10" in text["features"]
    )
    _, other = text_of(tmp_path, BELOW)
    assert "in transition" not in other["features"]


def test_explain_counts_the_transition_s_value_among_the_benefits(tmp_path: Path) -> None:
    write_stored_date(tmp_path)
    results = storage.read_partition("optimization_results", DAY, tmp_path)
    value = pl.when(pl.col("account_id") == TRADED).then(41_400.0).otherwise(0.0)
    storage.write_partition(
        results.with_columns(benefit_transition_usd=value), "optimization_results", DAY, tmp_path
    )
    _, text = text_of(tmp_path, TRADED)
    assert "quality $0.00, transition $41,400.00\n" in text["optimizer"]
    _, other = text_of(tmp_path, BELOW)
    assert "transition" not in other["optimizer"]
