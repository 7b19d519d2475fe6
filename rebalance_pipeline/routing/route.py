"""Route every account of the date to one decision, then to a review level.

Precedence (fixed by the workflow): bad data -> SUSPENDED (MANUAL when the account is in
the manual queue); an active hold -> HOLD (so are accounts with open pending orders under
policy ``continuity.pending_orders: hold``); an optimizer that could not meet the account's
mandates -> MANUAL; a proposal that trades a halted security -> HALT; a due mandate the
proposal cannot serve -> MANUAL; a proposal that serves a due mandate -> MANDATE; a score
that clears the group's decayed threshold -> SCORE; else NO_TRADE. Traded accounts
(MANDATE, SCORE) then get outlier flags and a review level from their account group's
review policy. The account group, holds and halts are the feature tables' (the SQL defines
them once); routing does not re-derive them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.reporting.cells import dollars
from rebalance_pipeline.routing import reasons as r
from rebalance_pipeline.routing.mandates import mandate_service
from rebalance_pipeline.routing.outliers import outlier_flags

TRADING_ROUTES = ("MANDATE", "SCORE")
PENDING_ORDER_ACCOUNTS = pl.Schema({"account_id": t.Utf8, "status": t.Utf8})
FAILED_SOLVES = {
    "infeasible": r.MANDATE_INFEASIBLE,
    "data_error": r.OPTIMIZER_DATA_ERROR,
    "solver_error": r.SOLVER_ERROR,
}

ROUTED_TRADE_COLUMNS = {"route": t.Utf8, "reason": t.Utf8, "review": t.Utf8}
RELEASED_TRADES = pl.Schema({**t.PROPOSED_TRADES, **ROUTED_TRADE_COLUMNS})
REVIEW_QUEUE = pl.Schema(
    {
        **RELEASED_TRADES,
        "decision": t.Utf8,  # approve | reject | modify; null = pending
        "new_quantity": t.F64,
        "reviewer": t.Utf8,
        "note": t.Utf8,
    }
)


@dataclasses.dataclass(frozen=True)
class RoutingInputs:
    """The frames routing reads (schemas in tables.py)."""

    account_status: pl.DataFrame
    manual_queue: pl.DataFrame
    account_valuations: pl.DataFrame
    days_since_trade: pl.DataFrame
    mandates: pl.DataFrame
    holdings: pl.DataFrame
    asset_class_drift: pl.DataFrame
    active_holds: pl.DataFrame
    active_halts: pl.DataFrame
    optimization_results: pl.DataFrame
    proposed_trades: pl.DataFrame
    # continuity.PENDING_ORDERS; only read under policy continuity.pending_orders = hold
    pending_orders: pl.DataFrame = dataclasses.field(
        default_factory=lambda: t.empty(PENDING_ORDER_ACCOUNTS)
    )


@dataclasses.dataclass(frozen=True)
class RoutingOutput:
    decisions: pl.DataFrame  # tables.ROUTING_DECISIONS, one row per account, sorted
    released_trades: pl.DataFrame  # RELEASED_TRADES: MANDATE/SCORE accounts reviewed 'auto'
    review_queue: pl.DataFrame  # REVIEW_QUEUE: accounts reviewed 'review', decision pending


@dataclasses.dataclass(frozen=True)
class Route:
    route: str
    reasons: list[str]
    rule: str


def route_accounts(inputs: RoutingInputs, policy: Policy) -> RoutingOutput:
    """One decision per account of ``account_valuations`` (suspended ones included)."""
    accounts = _account_facts(inputs, policy)
    routes = [_route(row, policy) for row in accounts.iter_rows(named=True)]
    decided = accounts.with_columns(
        pl.Series("route", [route.route for route in routes], t.Utf8),
        pl.Series("reasons", [route.reasons for route in routes], pl.List(t.Utf8)),
        pl.Series("rule", [route.rule for route in routes], t.Utf8),
    )
    flagged = outlier_flags(decided, TRADING_ROUTES, policy.outliers)
    decisions = flagged.with_columns(_review_expr().alias("review"))
    decisions = t.conform(decisions, t.ROUTING_DECISIONS).sort("account_id")
    released, queue = split_trades(inputs.proposed_trades, decisions)
    return RoutingOutput(decisions=decisions, released_trades=released, review_queue=queue)


def _account_facts(inputs: RoutingInputs, policy: Policy) -> pl.DataFrame:
    """One row per account with every fact a routing rule reads."""
    valuations = inputs.account_valuations.unique("account_id", keep="first")
    status = inputs.account_status.select(
        "account_id", pl.col("status").alias("checked_status"), "reason_codes"
    ).unique("account_id", keep="first")
    manual = inputs.manual_queue.select("account_id", pl.lit(True).alias("in_manual_queue"))
    holds = inputs.active_holds.group_by("account_id").agg(
        pl.col("reason").fill_null("no reason given").sort().alias("hold_reasons")
    )
    days = inputs.days_since_trade.select("account_id", "days_since_last_trade").unique(
        "account_id", keep="first"
    )
    mandates = inputs.mandates.group_by("account_id").agg(
        pl.struct("mandate", "priority").alias("mandate_list")
    )
    service = (
        mandate_service(
            inputs.mandates,
            inputs.proposed_trades,
            inputs.optimization_results,
            inputs.holdings,
            inputs.asset_class_drift,
            valuations,
        )
        .group_by("account_id")
        .agg(pl.struct("code", "needs_trades", "served", "detail").alias("mandate_service"))
    )
    results = inputs.optimization_results.select(
        "account_id",
        "solve_status",
        "status_detail",
        "score_bps",
        "account_value",
        "turnover_usd",
        "realized_gain_st",
        "realized_gain_lt",
        "gain_budget_overrun_usd",
        "tracking_error_after",
        "touches_halted",
        pl.lit(True).alias("optimized"),
    ).unique("account_id", keep="first")
    trades = _trade_facts(inputs.proposed_trades, inputs.active_halts)
    pending = (
        inputs.pending_orders.filter(pl.col("status") == "open")
        .select("account_id", pl.lit(True).alias("has_pending_orders"))
        .unique("account_id")
    )
    facts = (
        valuations.select("account_id", "model_id", "status", "account_group", "review_policy")
        .join(status, on="account_id", how="left")
        .join(manual.unique("account_id"), on="account_id", how="left")
        .join(holds, on="account_id", how="left")
        .join(days, on="account_id", how="left")
        .join(mandates, on="account_id", how="left")
        .join(service, on="account_id", how="left")
        .join(results, on="account_id", how="left")
        .join(trades, on="account_id", how="left")
        .join(pending, on="account_id", how="left")
        .with_columns(
            pl.coalesce("checked_status", "status").alias("status"),
            pl.col("in_manual_queue", "optimized", "has_pending_orders").fill_null(False),
            pl.col("proposed_trade_count").fill_null(0),
            pl.col("halted_securities_traded").fill_null([]),
        )
    )
    curves = {group.name: group.threshold for group in policy.account_groups}
    thresholds = [
        curves[group].at(days)
        for group, days in zip(facts["account_group"], facts["days_since_last_trade"], strict=True)
    ]
    return facts.with_columns(pl.Series("threshold_bps", thresholds, t.F64))


def _trade_facts(proposed: pl.DataFrame, halts: pl.DataFrame) -> pl.DataFrame:
    """Per account: how many trades the proposal has and which halted securities it trades."""
    halted = halts.select("security_id").unique()
    return proposed.group_by("account_id").agg(
        pl.len().cast(t.I64).alias("proposed_trade_count"),
        pl.col("security_id")
        .filter(pl.col("security_id").is_in(halted["security_id"].implode()))
        .unique()
        .sort()
        .alias("halted_securities_traded"),
    )


def _route(row: dict[str, Any], policy: Policy) -> Route:
    """The decision for one account; a traded proposal beyond the account's gain budget
    says so, with the amount, after the route's own reasons and rule."""
    route = _decide(row, policy)
    overrun = row["gain_budget_overrun_usd"] or 0.0
    if route.route in TRADING_ROUTES and overrun > 0:
        return Route(
            route.route,
            [*route.reasons, r.GAIN_BUDGET_OVERRUN],
            f"{route.rule}; net realized gains {dollars(overrun)} over the gain budget",
        )
    return route


def _decide(row: dict[str, Any], policy: Policy) -> Route:
    """The route of one account, rules in precedence order."""
    for rule in (_bad_data, _hold, _pending_orders, _failed_solve, _halt):
        route = rule(row, policy)
        if route is not None:
            return route
    due, deferred = _mandates(row, policy)
    judged = [m for m in row["mandate_service"] or [] if m["code"] in due and m["needs_trades"]]
    unserved = [m for m in judged if not m["served"]]
    if unserved:
        details = "; ".join(m["detail"] for m in unserved)
        return Route("MANUAL", [r.MANDATE_UNSERVED, *due], f"due mandate not served: {details}")
    if judged and row["proposed_trade_count"] > 0:
        return Route("MANDATE", due, f"mandated trades: {', '.join(due)}")
    notes = [*due, r.MANDATE_DEFERRED] if deferred else due
    return _score(row, policy, notes)


def _bad_data(row: dict[str, Any], policy: Policy) -> Route | None:
    if row["in_manual_queue"]:
        checks = [r.data_code(code) for code in row["reason_codes"] or []]
        return Route(
            "MANUAL",
            [r.MANUAL_CASH_REQUEST, *checks],
            "bad data and a due high-priority cash request: trade by hand",
        )
    if row["status"] != "ok":
        checks = [r.data_code(code) for code in row["reason_codes"] or []]
        return Route("SUSPENDED", [r.BAD_DATA, *checks], "bad data: suspended until fixed")
    return None


def _hold(row: dict[str, Any], policy: Policy) -> Route | None:
    if not row["hold_reasons"]:
        return None
    return Route("HOLD", [r.ACCOUNT_HOLD], f"active hold: {'; '.join(row['hold_reasons'])}")


def _pending_orders(row: dict[str, Any], policy: Policy) -> Route | None:
    """Under ``pending_orders: hold`` an account waits until its released trades show up."""
    if policy.continuity.pending_orders != "hold" or not row["has_pending_orders"]:
        return None
    return Route(
        "HOLD",
        [r.PENDING_ORDERS],
        "released trades not yet in the custodian's transactions: held until they are",
    )


def _failed_solve(row: dict[str, Any], policy: Policy) -> Route | None:
    status = row["solve_status"]
    if not row["optimized"]:
        return Route("NO_TRADE", [r.NOT_OPTIMIZED], "no optimizer result for the account")
    if status == "optimal":
        return None
    if status == "no_universe":
        return Route("NO_TRADE", [r.NO_UNIVERSE], "the optimizer had nothing it could trade")
    code = FAILED_SOLVES.get(status, r.UNKNOWN_SOLVE_STATUS)
    detail = f": {row['status_detail']}" if row["status_detail"] else ""
    return Route("MANUAL", [code], f"optimizer {status}{detail}: trade by hand")


def _halt(row: dict[str, Any], policy: Policy) -> Route | None:
    """HALT when the proposal trades a halted security.

    Under 'skip_account' the optimizer's own flag counts too; under 'freeze_security'
    the optimizer froze halted securities, so only an actual halted trade (a defect
    upstream) stops the account, never a halted holding left alone.
    """
    traded = row["halted_securities_traded"]
    flagged = policy.workflow.halt_mode == "skip_account" and bool(row["touches_halted"])
    if not (traded or flagged):
        return None
    which = f": {', '.join(traded)}" if traded else ""
    return Route("HALT", [r.HALTED_SECURITY], f"proposal trades a halted security{which}")


def _mandates(row: dict[str, Any], policy: Policy) -> tuple[list[str], bool]:
    """Reason codes of the mandates that trade today (high priority first), and whether
    normal-priority ones wait because only high-priority mandates trade in step 2."""
    mandates = sorted(
        {(m["mandate"], m["priority"]) for m in row["mandate_list"] or []},
        key=lambda m: (m[1] != "high", m[0]),
    )
    high_only = policy.workflow.step2_high_priority_only
    due = [r.mandate_code(*m) for m in mandates if not high_only or m[1] == "high"]
    return due, len(due) < len(mandates)


def _score(row: dict[str, Any], policy: Policy, notes: list[str]) -> Route:
    """SCORE or NO_TRADE by the policy's trigger; ``notes`` are mandates that did not trade."""
    trigger = policy.workflow.trigger
    score, threshold = row["score_bps"], row["threshold_bps"]
    has_trades = row["proposed_trade_count"] > 0
    if trigger == "bands":
        return Route("NO_TRADE", [r.SCORE_TRIGGER_OFF, *notes], "trigger=bands: only mandates")
    if trigger == "calendar":
        days = row["days_since_last_trade"]
        if not policy.workflow.calendar_due(days):
            rule = f"calendar: {days} days since the last trade < {policy.workflow.calendar_days}"
            return Route("NO_TRADE", [r.CALENDAR_NOT_DUE, *notes], rule)
        if not has_trades:
            return Route("NO_TRADE", [r.NO_TRADES_PROPOSED, *notes], "calendar due, no trades")
        return Route("SCORE", [r.CALENDAR_DUE, *notes], "calendar: due for its periodic trade")
    clears = score is not None and score >= threshold
    if not clears:
        shown = "null" if score is None else f"{score:.1f}"
        rule = f"score {shown} bps under the threshold {threshold:.1f} bps"
        return Route("NO_TRADE", [r.SCORE_BELOW_THRESHOLD, *notes], rule)
    if not has_trades:
        return Route("NO_TRADE", [r.NO_TRADES_PROPOSED, *notes], "score clears, no trades")
    rule = f"score {score:.1f} bps clears the threshold {threshold:.1f} bps"
    return Route("SCORE", [r.SCORE_ABOVE_THRESHOLD, *notes], rule)


def _review_expr() -> pl.Expr:
    """'auto' or 'review' for traded accounts by the group's review policy; null otherwise."""
    traded = pl.col("route").is_in(TRADING_ROUTES)
    needs_review = (pl.col("review_policy") == "all") | (
        (pl.col("review_policy") == "outliers") & (pl.col("outlier_flags").list.len() > 0)
    )
    return (
        pl.when(~traded)
        .then(pl.lit(None, t.Utf8))
        .when(needs_review)
        .then(pl.lit("review"))
        .otherwise(pl.lit("auto"))
    )


def split_trades(
    proposed: pl.DataFrame, decisions: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Proposed trades of traded accounts, split into released ('auto') and queued."""
    routed = proposed.join(
        decisions.filter(pl.col("route").is_in(TRADING_ROUTES)).select(
            "account_id", "route", pl.col("reasons").list.first().alias("reason"), "review"
        ),
        on="account_id",
        how="inner",
    ).sort("account_id", "side", "security_id", "lot_id", nulls_last=True)
    released = t.conform(routed.filter(pl.col("review") == "auto"), RELEASED_TRADES)
    queue = t.conform(routed.filter(pl.col("review") == "review"), REVIEW_QUEUE)
    return released, queue
