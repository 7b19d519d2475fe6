"""Routing on small hand-built frames: every route, its precedence, triggers and review."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import polars as pl
import pytest

from rebalance_pipeline import tables as t
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.routing import reasons as r
from rebalance_pipeline.routing.route import (
    RELEASED_TRADES,
    REVIEW_QUEUE,
    RoutingInputs,
    route_accounts,
)

AS_OF = dt.date(2026, 3, 16)


def account(account_id, value=500_000.0, model="M-BAL", status="ok", registration="taxable"):
    """A valuation row; its group as features' account_valuations.sql assigns it."""
    group = Policy().group_for(value, registration)
    return {
        "account_id": account_id,
        "registration": registration,
        "model_id": model,
        "status": status,
        "total_value": value,
        "custodian": "alpha",
        "account_group": group.name,
        "review_policy": group.review,
    }


def result(account_id, score=50.0, status="optimal", value=500_000.0, **extra):
    return {
        "account_id": account_id,
        "solve_status": status,
        "score_bps": score,
        "account_value": value,
        "turnover_usd": 0.01 * value,
        "realized_gain_st": 0.0,
        "realized_gain_lt": 0.0,
        "tracking_error_after": 0.001,
        "trade_count": 1,
        "touches_halted": False,
        **extra,
    }


def trade(
    account_id,
    security="SEC-A",
    side="buy",
    quantity=10.0,
    price=100.0,
    lot=None,
    asset_class="us_equity",
):
    return {
        "account_id": account_id,
        "security_id": security,
        "side": side,
        "quantity": quantity,
        "price": price,
        "amount": quantity * price,
        "lot_id": lot,
        "asset_class": asset_class,
    }


def withdrawal(account_id, due=5_000.0, cash_before=1_000.0, cash_after=6_000.0):
    """A due high-priority cash request and the cash the proposal leaves for it."""
    mandate = {"account_id": account_id, "mandate": "cash_request", "priority": "high"}
    cash = {"cash_before": cash_before, "cash_after": cash_after, "required_cash": due}
    return mandate, cash


def breach(account_id, weight=0.60, low=0.45, high=0.55, asset_class="us_equity"):
    """A band breach mandate and the class weight behind it."""
    mandate = {
        "account_id": account_id,
        "mandate": "band_breach",
        "priority": "normal",
        "asset_class": asset_class,
    }
    drift = {
        "account_id": account_id,
        "asset_class": asset_class,
        "weight": weight,
        "min_weight": low,
        "max_weight": high,
    }
    return mandate, drift


def inputs(
    accounts,
    results=(),
    trades=None,
    status=(),
    manual=(),
    holds=(),
    halts=(),
    mandates=(),
    days=None,
    holdings=(),
    drift=(),
):
    """Routing inputs; every account trades SEC-A and last traded 30 days ago by default."""
    ids = [a["account_id"] for a in accounts]
    if trades is None:
        trades = [trade(a) for a in ids]
    if days is None:
        days = dict.fromkeys(ids, 30)
    return RoutingInputs(
        account_status=t.conform(pl.DataFrame(list(status)), t.ACCOUNT_STATUS)
        if status
        else t.empty(t.ACCOUNT_STATUS),
        manual_queue=t.conform(pl.DataFrame([{"account_id": a} for a in manual]), t.MANUAL_QUEUE)
        if manual
        else t.empty(t.MANUAL_QUEUE),
        account_valuations=t.conform(pl.DataFrame(accounts), t.ACCOUNT_VALUATIONS),
        days_since_trade=t.conform(
            pl.DataFrame(
                {"account_id": list(days), "days_since_last_trade": list(days.values())},
                schema={"account_id": pl.String, "days_since_last_trade": pl.Int64},
            ),
            t.DAYS_SINCE_TRADE,
        ),
        mandates=_frame(mandates, t.MANDATES),
        holdings=_frame(holdings, t.HOLDINGS),
        asset_class_drift=_frame(drift, t.ASSET_CLASS_DRIFT),
        active_holds=_frame(holds, t.ACTIVE_HOLDS),
        active_halts=_frame(halts, t.ACTIVE_HALTS),
        optimization_results=_frame(results, t.OPTIMIZATION_RESULTS),
        proposed_trades=_frame(trades, t.PROPOSED_TRADES),
    )


def _frame(rows, schema):
    return t.conform(pl.DataFrame(list(rows)), schema) if rows else t.empty(schema)


def decision(output, account_id):
    return output.decisions.filter(pl.col("account_id") == account_id).row(0, named=True)


def routes(output):
    return dict(output.decisions.select("account_id", "route").iter_rows())


def hold(account_id, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), reason="call"):
    return {"account_id": account_id, "start_date": start, "end_date": end, "reason": reason}


SUSPENDED = {"account_id": "A", "status": "suspended", "reason_codes": ["unknown_security"]}


def test_suspended_beats_hold_and_keeps_every_account():
    out = route_accounts(
        inputs(
            [account("A"), account("B")],
            [result("B", 200.0)],
            status=[SUSPENDED],
            holds=[hold("A")],
        ),
        Policy(),
    )
    a = decision(out, "A")
    assert a["route"] == "SUSPENDED"
    assert a["reasons"] == [r.BAD_DATA, "data:unknown_security"]
    assert a["review"] is None
    assert out.decisions.height == 2
    assert out.released_trades["account_id"].to_list() == ["B"]


def test_hold_without_reason():
    out = route_accounts(
        inputs(
            [account("A"), account("B")],
            [result("A"), result("B", 200.0)],
            holds=[hold("A", reason=None)],
        ),
        Policy(),
    )
    assert routes(out) == {"A": "HOLD", "B": "SCORE"}
    assert decision(out, "A")["rule"] == "active hold: no reason given"


def test_manual_queue_beats_suspended():
    out = route_accounts(inputs([account("A")], status=[SUSPENDED], manual=["A"]), Policy())
    assert decision(out, "A")["route"] == "MANUAL"
    assert decision(out, "A")["reasons"][0] == r.MANUAL_CASH_REQUEST
    assert out.released_trades.is_empty()


def test_hold_beats_mandate():
    accounts = [account("A"), account("B")]
    (mandate_a, cash_a), (mandate_b, cash_b) = withdrawal("A"), withdrawal("B")
    out = route_accounts(
        inputs(
            accounts,
            [result("A", **cash_a), result("B", **cash_b)],
            holds=[hold("A")],
            mandates=[mandate_a, mandate_b],
        ),
        Policy(),
    )
    assert routes(out) == {"A": "HOLD", "B": "MANDATE"}
    assert decision(out, "A")["reasons"] == [r.ACCOUNT_HOLD]
    assert decision(out, "A")["rule"] == "active hold: call"
    assert decision(out, "B")["reasons"] == ["cash_request_high"]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("infeasible", r.MANDATE_INFEASIBLE),
        ("solver_error", r.SOLVER_ERROR),
        ("data_error", r.OPTIMIZER_DATA_ERROR),
    ],
)
def test_failed_solve_goes_to_manual(status, code):
    mandates = [{"account_id": "A", "mandate": "cash_request", "priority": "high"}]
    out = route_accounts(
        inputs([account("A")], [result("A", status=status)], mandates=mandates), Policy()
    )
    assert decision(out, "A")["route"] == "MANUAL"
    assert decision(out, "A")["reasons"] == [code]


def test_missing_result_is_no_trade_never_dropped():
    out = route_accounts(inputs([account("A")], results=[]), Policy())
    assert decision(out, "A")["route"] == "NO_TRADE"
    assert decision(out, "A")["reasons"] == [r.NOT_OPTIMIZED]


HALTED = [{"security_id": "SEC-H", "start_date": AS_OF, "end_date": AS_OF, "reason": "halt"}]


def test_halt_skip_account_routes_halt():
    trades = [trade("A", "SEC-H", side="sell", lot="L1"), trade("A")]
    out = route_accounts(
        inputs([account("A")], [result("A", touches_halted=True)], trades, halts=HALTED), Policy()
    )
    assert decision(out, "A")["route"] == "HALT"
    assert "SEC-H" in decision(out, "A")["rule"]
    assert out.released_trades.is_empty()


def test_halt_freeze_security_trades_the_rest():
    policy = Policy.model_validate({"workflow": {"halt_mode": "freeze_security"}})
    out = route_accounts(inputs([account("A")], [result("A", score=200.0)], halts=HALTED), policy)
    assert decision(out, "A")["route"] == "SCORE"
    frozen_but_traded = inputs(
        [account("A")], [result("A", score=200.0)], [trade("A", "SEC-H")], halts=HALTED
    )
    assert decision(route_accounts(frozen_but_traded, policy), "A")["route"] == "HALT"


RESTRICTED = {
    "account_id": "A",
    "mandate": "restriction",
    "priority": "normal",
    "security_id": "SEC-R",
}
HOLDS_R = {"account_id": "A", "security_id": "SEC-R", "quantity": 10.0}


def test_mandate_beats_score_and_lists_high_priority_first():
    cash_request, cash = withdrawal("A")
    trades = [trade("A", "SEC-R", side="sell", quantity=10.0, lot="A-R"), trade("A")]
    out = route_accounts(
        inputs(
            [account("A")],
            [result("A", score=500.0, **cash)],
            trades,
            mandates=[RESTRICTED, cash_request],
            holdings=[HOLDS_R],
        ),
        Policy(),
    )
    assert decision(out, "A")["route"] == "MANDATE"
    assert decision(out, "A")["reasons"] == ["cash_request_high", "restriction_normal"]


def test_a_restricted_holding_not_sold_in_full_is_manual():
    trades = [trade("A", "SEC-R", side="sell", quantity=4.0, lot="A-R"), trade("A")]
    out = route_accounts(
        inputs(
            [account("A")],
            [result("A", score=500.0)],
            trades,
            mandates=[RESTRICTED],
            holdings=[HOLDS_R],
        ),
        Policy(),
    )
    assert decision(out, "A")["route"] == "MANUAL"
    assert decision(out, "A")["reasons"] == [r.MANDATE_UNSERVED, "restriction_normal"]
    assert "sells 4.0 of 10.0 held" in decision(out, "A")["rule"]
    assert out.released_trades.is_empty()


def test_a_withdrawal_the_cash_covers_leaves_the_trades_to_the_score():
    cash_request, cash = withdrawal("A", cash_before=9_000.0, cash_after=8_000.0)
    out = route_accounts(
        inputs([account("A")], [result("A", score=5.0, **cash)], mandates=[cash_request]),
        Policy(),
    )
    assert decision(out, "A")["route"] == "NO_TRADE"
    assert decision(out, "A")["reasons"] == [r.SCORE_BELOW_THRESHOLD, "cash_request_high"]


def test_high_priority_only_makes_a_normal_mandate_wait():
    policy = Policy.model_validate({"workflow": {"step2_high_priority_only": True}})
    mandates = [breach(a)[0] for a in ("A", "B")]
    # 30 days since the last trade: threshold 15 + 135 e^-0.5 = 96.88 bps
    out = route_accounts(
        inputs(
            [account("A"), account("B")],
            [result("A", score=120.0), result("B", score=50.0)],
            mandates=mandates,
        ),
        policy,
    )
    assert routes(out) == {"A": "SCORE", "B": "NO_TRADE"}
    assert decision(out, "A")["reasons"] == [r.SCORE_ABOVE_THRESHOLD, r.MANDATE_DEFERRED]
    assert decision(out, "B")["reasons"] == [r.SCORE_BELOW_THRESHOLD, r.MANDATE_DEFERRED]
    assert decision(out, "B")["threshold_bps"] == pytest.approx(15 + 135 * math.exp(-0.5))


def test_a_due_mandate_without_trades_is_manual():
    mandate, drift = breach("A")
    cash = {"cash_before": 0.0, "cash_after": 0.0, "required_cash": 0.0}
    out = route_accounts(
        inputs(
            [account("A")],
            [result("A", score=0.0, **cash)],
            trades=[],
            mandates=[mandate],
            drift=[drift],
        ),
        Policy(),
    )
    assert decision(out, "A")["route"] == "MANUAL"
    assert decision(out, "A")["reasons"] == [r.MANDATE_UNSERVED, "band_breach_normal"]
    assert "60.0% after the trades" in decision(out, "A")["rule"]


@pytest.mark.parametrize(
    ("days", "threshold"),
    [(0, 150.0), (60, 15 + 135 / math.e), (182, 21.50), (None, 15.0)],
)
def test_threshold_decays_with_days_since_last_trade(days, threshold):
    out = route_accounts(
        inputs([account("A")], [result("A", score=30.0)], days={"A": days}), Policy()
    )
    assert decision(out, "A")["threshold_bps"] == pytest.approx(threshold, abs=0.01)
    assert decision(out, "A")["route"] == ("NO_TRADE" if threshold > 30 else "SCORE")


def test_score_exactly_at_threshold_trades_and_empty_proposal_does_not():
    out = route_accounts(
        inputs(
            [account("A"), account("B")],
            [result("A", 150.0), result("B", 300.0)],
            trades=[trade("A")],
            days={"A": 0, "B": 0},
        ),
        Policy(),
    )
    assert routes(out) == {"A": "SCORE", "B": "NO_TRADE"}
    assert decision(out, "B")["reasons"] == [r.NO_TRADES_PROPOSED]


def test_calendar_trigger_ignores_the_score():
    policy = Policy.model_validate({"workflow": {"trigger": "calendar", "calendar_days": 90}})
    out = route_accounts(
        inputs(
            [account("A"), account("B"), account("C")],
            [result("A", score=0.0), result("B", score=900.0), result("C", score=0.0)],
            days={"A": 90, "B": 89, "C": None},
        ),
        policy,
    )
    assert routes(out) == {"A": "SCORE", "B": "NO_TRADE", "C": "SCORE"}
    assert decision(out, "A")["reasons"] == [r.CALENDAR_DUE]
    assert decision(out, "B")["reasons"] == [r.CALENDAR_NOT_DUE]


def test_bands_trigger_trades_only_mandates():
    policy = Policy.model_validate({"workflow": {"trigger": "bands"}})
    mandate, drift = breach("A")
    cash = {"cash_before": 0.0, "cash_after": 0.0, "required_cash": 0.0}
    # $30,000 of us_equity sold of $500,000: 60% -> 54%
    trades = [trade("A", side="sell", quantity=300.0, lot="A-1"), trade("B")]
    out = route_accounts(
        inputs(
            [account("A"), account("B")],
            [result("A", score=0.0, **cash), result("B", score=900.0)],
            trades,
            mandates=[mandate],
            drift=[drift],
        ),
        policy,
    )
    assert routes(out) == {"A": "MANDATE", "B": "NO_TRADE"}
    assert decision(out, "B")["reasons"] == [r.SCORE_TRIGGER_OFF]


def test_review_follows_the_account_group():
    accounts = [
        account("S", 900_000.0),
        account("M", 5_000_000.0),
        account("U", 25_000_000.0),
    ]
    results = [
        result("S", 200.0, value=900_000.0),
        result("M", 200.0, value=5_000_000.0),
        result("U", 200.0, value=25_000_000.0),
    ]
    out = route_accounts(inputs(accounts, results), Policy())
    got = {
        row["account_id"]: (row["account_group"], row["review_policy"], row["review"])
        for row in out.decisions.iter_rows(named=True)
    }
    assert got == {
        "S": ("small", "none", "auto"),
        "M": ("mid", "outliers", "auto"),
        "U": ("uhnw", "all", "review"),
    }
    assert sorted(out.released_trades["account_id"]) == ["M", "S"]
    assert out.review_queue["account_id"].to_list() == ["U"]
    assert out.released_trades.schema == RELEASED_TRADES
    assert out.review_queue.schema == REVIEW_QUEUE
    assert out.review_queue["decision"].is_null().all()
    assert out.released_trades.row(0, named=True)["reason"] == r.SCORE_ABOVE_THRESHOLD


MID = 10_000_000.0


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        ({"turnover_usd": 0.26 * MID}, r.FLAG_TURNOVER),
        ({"realized_gain_st": 60_000.0, "realized_gain_lt": 50_000.0}, r.FLAG_REALIZED_GAIN_USD),
        ({"tracking_error_after": 0.016}, r.FLAG_TRACKING_ERROR),
    ],
)
def test_outlier_flags_send_a_mid_account_to_review(extra, flag):
    out = route_accounts(
        inputs([account("M", MID)], [result("M", 200.0, value=MID, **extra)]), Policy()
    )
    assert decision(out, "M")["outlier_flags"] == [flag]
    assert decision(out, "M")["review"] == "review"


def test_realized_gain_pct_and_trade_count_flags():
    small = 400_000.0
    trades = [trade("S", f"SEC-{i}") for i in range(41)]
    out = route_accounts(
        inputs(
            [account("S", small)],
            [result("S", 200.0, value=small, realized_gain_lt=8_001.0)],
            trades,
        ),
        Policy(),
    )
    # flags are recorded under review policy 'none' too, and do not send it to review
    assert decision(out, "S")["outlier_flags"] == [r.FLAG_REALIZED_GAIN_PCT, r.FLAG_TRADE_COUNT]
    assert decision(out, "S")["review"] == "auto"


def test_peer_turnover_outlier_needs_five_peers():
    values = {f"P{i}": 0.01 * MID * (1 + 0.1 * i) for i in range(5)}  # 1.0% .. 1.4%
    values["X"] = 0.05 * MID  # 5% turnover, far from its peers
    accounts = [account(a, MID) for a in values]
    results = [result(a, 200.0, value=MID, turnover_usd=v) for a, v in values.items()]
    out = route_accounts(inputs(accounts, results), Policy())
    flagged = out.decisions.filter(pl.col("outlier_flags").list.len() > 0)
    assert flagged["account_id"].to_list() == ["X"]
    assert decision(out, "X")["outlier_flags"] == [r.FLAG_PEER_TURNOVER]
    fewer = {a: v for a, v in values.items() if a != "P0"}
    out = route_accounts(
        inputs(
            [account(a, MID) for a in fewer],
            [result(a, 200.0, value=MID, turnover_usd=v) for a, v in fewer.items()],
        ),
        Policy(),
    )
    assert decision(out, "X")["outlier_flags"] == []


def test_output_is_deterministic_whatever_the_input_order():
    accounts = [account(a) for a in ("C", "A", "B")]
    results = [result(a, 200.0) for a in ("B", "C", "A")]
    first = route_accounts(inputs(accounts, results), Policy())
    second = route_accounts(inputs(accounts[::-1], results[::-1]), Policy())
    assert first.decisions["account_id"].to_list() == ["A", "B", "C"]
    assert first.decisions.equals(second.decisions)
    assert first.released_trades.equals(second.released_trades)
    assert first.decisions.schema == t.ROUTING_DECISIONS


def test_no_accounts_give_no_decisions():
    none = dataclasses.replace(
        inputs([account("A")]), account_valuations=t.empty(t.ACCOUNT_VALUATIONS)
    )
    out = route_accounts(none, Policy())
    assert out.decisions.is_empty()
    assert out.decisions.schema == t.ROUTING_DECISIONS
    assert out.released_trades.is_empty() and out.review_queue.is_empty()


def test_a_score_or_an_overrun_that_is_not_a_number_never_trades_or_counts():
    # NaN compares false: the score does not clear its threshold, the overrun is no overrun
    out = route_accounts(
        inputs(
            [account("A"), account("B")],
            [result("A", math.nan), result("B", 200.0, gain_budget_overrun_usd=math.nan)],
        ),
        Policy(),
    )
    a, b = decision(out, "A"), decision(out, "B")
    assert (a["route"], a["reasons"]) == ("NO_TRADE", [r.SCORE_BELOW_THRESHOLD])
    assert a["rule"].startswith("score nan bps under the threshold ")
    assert (b["route"], b["reasons"]) == ("SCORE", [r.SCORE_ABOVE_THRESHOLD])
    assert "gain budget" not in b["rule"]


@pytest.mark.parametrize(
    ("status", "detail", "rule"),
    [
        ("infeasible", "", "optimizer infeasible: trade by hand"),
        ("infeasible", None, "optimizer infeasible: trade by hand"),
        ("solver_error", "max iter", "optimizer solver_error: max iter: trade by hand"),
        ("odd", None, "optimizer odd: trade by hand"),
    ],
)
def test_a_failed_solve_says_its_status_and_detail_when_there_is_one(status, detail, rule):
    out = route_accounts(
        inputs([account("A")], [result("A", status=status, status_detail=detail)]), Policy()
    )
    assert decision(out, "A")["rule"] == rule
    assert decision(out, "A")["reasons"] == [FAILED.get(status, r.UNKNOWN_SOLVE_STATUS)]


FAILED = {"infeasible": r.MANDATE_INFEASIBLE, "solver_error": r.SOLVER_ERROR}


def test_every_unserved_due_mandate_is_named_in_the_rule():
    restricted = {"account_id": "A", "mandate": "restriction", "priority": "high"}
    (mandate, cash) = withdrawal("A", cash_after=2_000.0)  # short of the 5,000 due
    holdings = [{"account_id": "A", "security_id": "SEC-R", "quantity": 10.0}]
    out = route_accounts(
        inputs(
            [account("A")],
            [result("A", **cash)],
            mandates=[mandate, {**restricted, "security_id": "SEC-R"}],
            holdings=holdings,
        ),
        Policy(),
    )
    a = decision(out, "A")
    assert a["route"] == "MANUAL"
    assert a["reasons"] == [r.MANDATE_UNSERVED, "cash_request_high", "restriction_high"]
    assert a["rule"].count("; ") == 1
