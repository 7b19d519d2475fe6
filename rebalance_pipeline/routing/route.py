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
from collections.abc import Callable

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
class Rule:
    """One routing rule over the account facts: where it applies, and the route, reason
    codes (a list) and rule text it gives there."""

    applies: pl.Expr
    route: str
    reasons: pl.Expr
    text: pl.Expr


def route_accounts(inputs: RoutingInputs, policy: Policy) -> RoutingOutput:
    """One decision per account of ``account_valuations`` (suspended ones included), and
    the proposed trades of the traded accounts split by review level."""
    decisions = route_decisions(inputs, policy)
    released, queue = split_trades(inputs.proposed_trades, decisions)
    return RoutingOutput(decisions=decisions, released_trades=released, review_queue=queue)


def route_decisions(inputs: RoutingInputs, policy: Policy) -> pl.DataFrame:
    """tables.ROUTING_DECISIONS: one decision per account of ``account_valuations``
    (suspended ones included), sorted by account."""
    accounts = _account_facts(inputs, policy)
    rules = _rules(policy)
    decided = _with_gain_budget_overrun(
        accounts.with_columns(
            _first_rule(rules, lambda rule: pl.lit(rule.route, t.Utf8)).alias("route"),
            _first_rule(rules, lambda rule: rule.reasons).alias("reasons"),
            _first_rule(rules, lambda rule: rule.text).alias("rule"),
        )
    )
    flagged = outlier_flags(decided, TRADING_ROUTES, policy.outliers)
    decisions = flagged.with_columns(_review_expr().alias("review"))
    return t.conform(decisions, t.ROUTING_DECISIONS).sort("account_id")


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
    service = mandate_service(
        inputs.mandates,
        inputs.proposed_trades,
        inputs.optimization_results,
        inputs.holdings,
        inputs.asset_class_drift,
        valuations,
    )
    mandates = _mandate_facts(inputs.mandates, service, policy)
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
        .join(results, on="account_id", how="left")
        .join(trades, on="account_id", how="left")
        .join(pending, on="account_id", how="left")
        .with_columns(
            pl.coalesce("checked_status", "status").alias("status"),
            pl.col("in_manual_queue", "optimized", "has_pending_orders").fill_null(False),
            pl.col("proposed_trade_count").fill_null(0),
            pl.col("halted_securities_traded", "due_mandates").fill_null([]),
            pl.col("mandates_deferred").fill_null(False),
            pl.col("judged_mandates").fill_null(0),
        )
    )
    curves = {group.name: group.threshold for group in policy.account_groups}
    thresholds = [
        curves[group].at(days)
        for group, days in zip(facts["account_group"], facts["days_since_last_trade"], strict=True)
    ]
    return facts.with_columns(
        pl.Series("threshold_bps", thresholds, t.F64),
        _one_decimal(facts["score_bps"]).alias("score_shown"),
        _one_decimal(pl.Series(thresholds, dtype=t.F64)).alias("threshold_shown"),
        _overrun_dollars(facts["gain_budget_overrun_usd"]).alias("overrun_shown"),
        pl.Series(
            [policy.workflow.calendar_due(days) for days in facts["days_since_last_trade"]],
            dtype=pl.Boolean,
        ).alias("calendar_due"),
    )


def _mandate_facts(mandates: pl.DataFrame, service: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Per account with mandates: ``due_mandates``, the reason codes of those that trade
    today (high priority first); ``mandates_deferred``, whether normal-priority ones wait
    because only high-priority mandates trade in step 2; ``judged_mandates``, how many
    due ones need trades; ``unserved_mandates``, the details of those the proposal does
    not serve ("; "-joined in the service's order; null when it serves them all)."""
    listed = mandates.select("account_id", "mandate", "priority").unique()
    high = pl.col("priority") == "high"
    due = (
        listed.filter(high if policy.workflow.step2_high_priority_only else pl.lit(True))
        .with_columns(r.mandate_code(pl.col("mandate"), pl.col("priority")).alias("code"))
        .sort(~high, "mandate")
    )
    judged = service.filter(pl.col("needs_trades").fill_null(False)).join(
        due.select("account_id", "code"),
        on=["account_id", "code"],
        how="semi",
        maintain_order="left",
    )
    unserved = (
        judged.filter(~pl.col("served").fill_null(False))
        .group_by("account_id", maintain_order=True)
        .agg(pl.col("detail").str.join("; ").alias("unserved_mandates"))
    )
    return (
        listed.group_by("account_id")
        .agg(pl.len().alias("listed"))
        .join(
            due.group_by("account_id", maintain_order=True).agg(
                pl.col("code").alias("due_mandates")
            ),
            on="account_id",
            how="left",
        )
        .join(
            judged.group_by("account_id").agg(pl.len().alias("judged_mandates")),
            on="account_id",
            how="left",
        )
        .join(unserved, on="account_id", how="left")
        .select(
            "account_id",
            pl.col("due_mandates").fill_null([]),
            (pl.col("due_mandates").list.len().fill_null(0) < pl.col("listed")).alias(
                "mandates_deferred"
            ),
            pl.col("judged_mandates").fill_null(0),
            "unserved_mandates",
        )
    )


def _one_decimal(values: pl.Series) -> pl.Series:
    """Numbers as the rule texts show them: one decimal place (Python's formatting)."""
    return pl.Series([None if v is None else f"{v:.1f}" for v in values.to_list()], dtype=t.Utf8)


def _overrun_dollars(overruns: pl.Series) -> pl.Series:
    """A gain budget overrun in dollars where there is one (over 0), else null."""
    shown = [dollars(v) if v is not None and v > 0 else None for v in overruns.to_list()]
    return pl.Series(shown, dtype=t.Utf8)


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


def _first_rule(rules: list[Rule], part: Callable[[Rule], pl.Expr]) -> pl.Expr:
    """``part`` of the first rule (in precedence order) that applies to the account."""
    chain = pl.when(rules[0].applies.fill_null(False)).then(part(rules[0]))
    for rule in rules[1:]:
        chain = chain.when(rule.applies.fill_null(False)).then(part(rule))
    return chain


def _codes(*parts: str | pl.Expr) -> pl.Expr:
    """A list of reason codes: each part a code or a list of codes."""
    return pl.concat_list(
        [pl.lit(part, t.Utf8) if isinstance(part, str) else part for part in parts]
    )


def _rules(policy: Policy) -> list[Rule]:
    """Every routing rule, in precedence order; the last ones apply to every account."""
    return [
        *_bad_data(),
        _hold(),
        *_pending_orders(policy),
        *_failed_solve(),
        _halt(policy),
        *_mandates(),
        *_score(policy),
    ]


def _bad_data() -> list[Rule]:
    checks = r.data_codes(pl.col("reason_codes").fill_null([]))
    return [
        Rule(
            pl.col("in_manual_queue"),
            "MANUAL",
            _codes(r.MANUAL_CASH_REQUEST, checks),
            pl.lit("bad data and a due high-priority cash request: trade by hand"),
        ),
        Rule(
            pl.col("status").ne_missing("ok"),
            "SUSPENDED",
            _codes(r.BAD_DATA, checks),
            pl.lit("bad data: suspended until fixed"),
        ),
    ]


def _hold() -> Rule:
    reasons = pl.col("hold_reasons")
    return Rule(
        reasons.list.len() > 0,
        "HOLD",
        _codes(r.ACCOUNT_HOLD),
        pl.format("active hold: {}", reasons.list.join("; ")),
    )


def _pending_orders(policy: Policy) -> list[Rule]:
    """Under ``pending_orders: hold`` an account waits until its released trades show up."""
    if policy.continuity.pending_orders != "hold":
        return []
    text = "released trades not yet in the custodian's transactions: held until they are"
    return [Rule(pl.col("has_pending_orders"), "HOLD", _codes(r.PENDING_ORDERS), pl.lit(text))]


def _failed_solve() -> list[Rule]:
    status, detail = pl.col("solve_status"), pl.col("status_detail")
    code = status.replace_strict(FAILED_SOLVES, default=r.UNKNOWN_SOLVE_STATUS, return_dtype=t.Utf8)
    shown_detail = pl.when(detail.str.len_chars() > 0).then(pl.format(": {}", detail))
    return [
        Rule(
            ~pl.col("optimized"),
            "NO_TRADE",
            _codes(r.NOT_OPTIMIZED),
            pl.lit("no optimizer result for the account"),
        ),
        Rule(
            status == "no_universe",
            "NO_TRADE",
            _codes(r.NO_UNIVERSE),
            pl.lit("the optimizer had nothing it could trade"),
        ),
        Rule(
            status.ne_missing("optimal"),
            "MANUAL",
            _codes(code),
            pl.format(
                "optimizer {}{}: trade by hand",
                status.fill_null("None"),
                shown_detail.otherwise(pl.lit("")),
            ),
        ),
    ]


def _halt(policy: Policy) -> Rule:
    """HALT when the proposal trades a halted security.

    Under 'skip_account' the optimizer's own flag counts too; under 'freeze_security'
    the optimizer froze halted securities, so only an actual halted trade (a defect
    upstream) stops the account, never a halted holding left alone.
    """
    traded = pl.col("halted_securities_traded")
    flagged = pl.lit(policy.workflow.halt_mode == "skip_account") & pl.col(
        "touches_halted"
    ).fill_null(False)
    which = pl.when(traded.list.len() > 0).then(pl.format(": {}", traded.list.join(", ")))
    return Rule(
        (traded.list.len() > 0) | flagged,
        "HALT",
        _codes(r.HALTED_SECURITY),
        pl.format("proposal trades a halted security{}", which.otherwise(pl.lit(""))),
    )


def _mandates() -> list[Rule]:
    """MANUAL when a due mandate that needs trades is not served, MANDATE when the
    proposal trades for due mandates (see ``_mandate_facts``)."""
    due = pl.col("due_mandates")
    return [
        Rule(
            pl.col("unserved_mandates").is_not_null(),
            "MANUAL",
            _codes(r.MANDATE_UNSERVED, due),
            pl.format("due mandate not served: {}", "unserved_mandates"),
        ),
        Rule(
            (pl.col("judged_mandates") > 0) & (pl.col("proposed_trade_count") > 0),
            "MANDATE",
            due,
            pl.format("mandated trades: {}", due.list.join(", ")),
        ),
    ]


def _score(policy: Policy) -> list[Rule]:
    """SCORE or NO_TRADE by the policy's trigger, after the mandates that did not trade."""
    due = pl.col("due_mandates")
    notes = (
        pl.when(pl.col("mandates_deferred")).then(_codes(due, r.MANDATE_DEFERRED)).otherwise(due)
    )
    workflow = policy.workflow
    if workflow.trigger == "bands":
        text = pl.lit("trigger=bands: only mandates")
        return [Rule(pl.lit(True), "NO_TRADE", _codes(r.SCORE_TRIGGER_OFF, notes), text)]
    if workflow.trigger == "calendar":
        not_due = f"calendar: {{}} days since the last trade < {workflow.calendar_days}"
        return _triggered(
            notes,
            Rule(
                ~pl.col("calendar_due"),
                "NO_TRADE",
                _codes(r.CALENDAR_NOT_DUE, notes),
                pl.format(not_due, "days_since_last_trade"),
            ),
            "calendar due, no trades",
            _codes(r.CALENDAR_DUE, notes),
            pl.lit("calendar: due for its periodic trade"),
        )
    score = pl.col("score_bps")
    clears = ((score >= pl.col("threshold_bps")) & ~score.is_nan()).fill_null(False)
    below = pl.format(
        "score {} bps under the threshold {} bps",
        pl.col("score_shown").fill_null("null"),
        "threshold_shown",
    )
    return _triggered(
        notes,
        Rule(~clears, "NO_TRADE", _codes(r.SCORE_BELOW_THRESHOLD, notes), below),
        "score clears, no trades",
        _codes(r.SCORE_ABOVE_THRESHOLD, notes),
        pl.format("score {} bps clears the threshold {} bps", "score_shown", "threshold_shown"),
    )


def _triggered(
    notes: pl.Expr, untriggered: Rule, without_trades: str, reasons: pl.Expr, text: pl.Expr
) -> list[Rule]:
    """A trigger's rules: NO_TRADE where it does not fire (``untriggered``), NO_TRADE
    where it fires on an empty proposal, SCORE (``reasons``, ``text``) everywhere else."""
    empty = ~(pl.col("proposed_trade_count") > 0)
    return [
        untriggered,
        Rule(empty, "NO_TRADE", _codes(r.NO_TRADES_PROPOSED, notes), pl.lit(without_trades)),
        Rule(pl.lit(True), "SCORE", reasons, text),
    ]


def _with_gain_budget_overrun(decided: pl.DataFrame) -> pl.DataFrame:
    """A traded proposal beyond the account's gain budget says so, with the amount,
    after the route's own reasons and rule."""
    over = pl.col("route").is_in(TRADING_ROUTES) & pl.col("overrun_shown").is_not_null()
    return decided.with_columns(
        pl.when(over)
        .then(_codes(pl.col("reasons"), r.GAIN_BUDGET_OVERRUN))
        .otherwise("reasons")
        .alias("reasons"),
        pl.when(over)
        .then(pl.format("{}; net realized gains {} over the gain budget", "rule", "overrun_shown"))
        .otherwise("rule")
        .alias("rule"),
    )


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
