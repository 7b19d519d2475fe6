"""The links of an account's decision chain on a date, one builder each, in the order
``SECTION_BUILDERS`` lists them: source files -> data quality -> features -> optimizer ->
score vs threshold -> routing -> trade files or review queue -> counterfactual.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl

from rebalance_pipeline.audit.artifacts import Artifacts
from rebalance_pipeline.audit.batches import current_batch_id, read_batch, review_batches
from rebalance_pipeline.optimization.account_rules import describe
from rebalance_pipeline.optimization.problem import PROBLEM_SCHEMA, problems_from_frame
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.reporting.cells import dollars
from rebalance_pipeline.routing.counterfactual import counterfactual
from rebalance_pipeline.routing.thresholds import group_named

UNSCORED_ROUTES = ("SUSPENDED", "MANUAL", "HOLD")
GAIN_SOURCE_TEXT = {  # sell_gains.sql's gain_source, for a person
    "delivered_gain": "as delivered",
    "delivered_cost_basis": "from the delivered cost basis",
    "lot_cost_basis": "from the lot's cost basis",
    "unknown": "unknown (treated as a loss)",
}


@dataclasses.dataclass(frozen=True)
class Section:
    """One link of the chain: a few human lines and the stored rows behind them."""

    key: str
    title: str
    lines: list[str]
    data: dict[str, Any]


def _account(artifacts: Artifacts, account_id: str) -> dict[str, Any]:
    for table in ("account_valuations", "accounts"):
        found = artifacts.rows(table, "account_id", account_id)
        if found:
            return found[0]
    return {}


def _text(value: Any) -> str:
    return "none" if value is None else str(value)


def _shares(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _sources(artifacts: Artifacts, account_id: str, _d: dict, _p: Policy) -> Section:
    custodian = _account(artifacts, account_id).get("custodian")
    files = artifacts.table("source_files")
    if files is None:
        return Section("sources", "Source files", [artifacts.missing("source_files")], {})
    mine = files.filter(pl.col("custodian") == custodian).sort("kind", "source_file")
    count = mine["source_file"].n_unique()
    lines = [f"custodian {_text(custodian)}: {count} file{'' if count == 1 else 's'}"]
    for (path,), kinds in mine.group_by("source_file", maintain_order=True):
        lines.append(_file_line(path, kinds))
    return Section(
        "sources", "Source files", lines, {"custodian": custodian, "files": mine.to_dicts()}
    )


def _file_line(path: str, kinds: pl.DataFrame) -> str:
    """One line per file; a file holding several kinds (a Flex report) gives the rows
    read of each."""
    first = kinds.row(0, named=True)
    if kinds.height == 1:
        return (
            f"{first['kind']:<17} {path} ({first['status']}, {first['detail_rows']} rows) "
            f"sha256 {first['sha256']}"
        )
    rows = ", ".join(f"{row['kind']} {row['detail_rows']}" for row in kinds.iter_rows(named=True))
    return f"{path} ({first['status']}; rows: {rows}) sha256 {first['sha256']}"


def _data_quality(artifacts: Artifacts, account_id: str, _d: dict, _p: Policy) -> Section:
    status = artifacts.rows("account_status", "account_id", account_id)
    issues = artifacts.table("data_quality_issues")
    findings = (
        []
        if issues is None
        else issues.filter(pl.col("account_ids").list.contains(account_id))
        .sort("severity", "check", "finding_id")
        .to_dicts()
    )
    manual = artifacts.rows("manual_queue", "account_id", account_id)
    if status:
        codes = ", ".join(status[0]["reason_codes"]) or "no failed checks"
        lines = [f"status {status[0]['status']} ({codes})"]
    else:
        lines = [artifacts.missing("account_status") + " for the account"]
    lines.append(f"{len(findings)} findings touch the account")
    lines += [
        f"{f['severity']} {f['check']}: {f['message']} "
        f"[{f['source_file'] or 'no file'}{'' if f['source_row'] is None else ':'}"
        f"{'' if f['source_row'] is None else f['source_row']}]"
        for f in findings
    ]
    lines += [
        f"in the manual queue: {dollars(m['requested_amount'])} due {m['due_date']}, "
        f"cash available {dollars(m['cash_available'])}, "
        f"last good date {_text(m['last_good_date'])}"
        for m in manual
    ]
    data = {"status": status[0] if status else None, "findings": findings, "manual_queue": manual}
    return Section("data_quality", "Data quality", lines, data)


def _features(artifacts: Artifacts, account_id: str, _d: dict, _p: Policy) -> Section:
    account = _account(artifacts, account_id)
    lines = [
        f"total value {dollars(account.get('total_value'))}, cash {dollars(account.get('cash'))}, "
        f"group {account.get('account_group')} (review {account.get('review_policy')}), "
        f"{account.get('registration')}, model {account.get('model_id')}"
    ]
    drift = artifacts.rows("asset_class_drift", "account_id", account_id)
    lines += [
        f"{row['asset_class']}: {_pct(row['weight'])} vs target {_pct(row['target_weight'])} "
        f"band [{_pct(row['min_weight'])}, {_pct(row['max_weight'])}]"
        + (f" BREACH {row['breach']}" if row["breach"] else "")
        for row in sorted(drift, key=lambda row: row["asset_class"])
    ]
    lots = artifacts.rows("tax_lots", "account_id", account_id)
    lines.append(_lot_summary(lots))
    lines += [
        f"  {lot['lot_id']} {lot['security_id']} {_shares(lot['quantity'])} sh, gain "
        f"{dollars(lot['unrealized_gain'])}, {'long' if lot['is_long_term'] else 'short'}-term "
        f"({_text(lot['holding_days'])} days)"
        for lot in sorted(lots, key=lambda lot: lot["lot_id"])
    ]
    windows = _active_windows(artifacts, account.get("household_id"))
    lines.append(
        f"{len(windows)} active wash-sale windows in household {account.get('household_id')}"
    )
    lines += [
        f"  {w['identical_group']} blocks {w['blocks']} {w['window_start']}..{w['window_end']} "
        f"({_window_source(w)})"
        for w in windows
    ]
    mandates = artifacts.rows("mandates", "account_id", account_id)
    lines.append(f"{len(mandates)} mandates")
    lines += [f"  {m['mandate']} ({m['priority']}): {m['detail']}" for m in mandates]
    days = artifacts.rows("days_since_trade", "account_id", account_id)
    last = days[0] if days else {}
    lines.append(
        f"last trade {_text(last.get('last_trade_date'))} "
        f"(custodian {_text(last.get('last_custodian_trade_date'))}, "
        f"firm {_text(last.get('last_firm_trade_date'))}); "
        f"days since: {_text(last.get('days_since_last_trade'))}"
    )
    holds = artifacts.rows("active_holds", "account_id", account_id)
    lines += [
        f"active hold {h['start_date']}..{h['end_date'] or 'open-ended'}: {h['reason']}"
        for h in holds
    ]
    restricted = artifacts.rows("restricted_securities", "account_id", account_id)
    lines += [f"restricted holding {r['security_id']} ({r['restriction_id']})" for r in restricted]
    transition = artifacts.rows("transition_progress", "account_id", account_id)
    lines += [transition_line(progress) for progress in transition]
    data = {
        "valuation": account,
        "asset_class_drift": drift,
        "tax_lots": lots,
        "wash_sale_windows": windows,
        "mandates": mandates,
        "days_since_trade": last,
        "active_holds": holds,
        "restricted_securities": restricted,
        "transition_progress": transition,
    }
    return Section("features", "Features", lines, data)


def transition_line(progress: dict[str, Any]) -> str:
    """An account's transition progress (a ``transition_progress`` row) in words."""
    budget = progress["remaining_gain_budget_usd"]
    return (
        f"in transition since {progress['transition_start']}: "
        f"{_pct(progress['model_share'])} in model securities, "
        f"{dollars(progress['non_model_value'])} outside the model left; net gains realized "
        f"since the start {dollars(progress['realized_gain_since_start'])}"
        + ("" if progress["gains_complete"] else " (only the sells the loaded history shows)")
        + (", no gain budget" if budget is None else f", gain budget left {dollars(budget)}")
    )


def _lot_summary(lots: list[dict[str, Any]]) -> str:
    def gain(long_term: bool) -> float:
        return sum(
            lot["unrealized_gain"] or 0.0 for lot in lots if bool(lot["is_long_term"]) == long_term
        )

    losses = sum(1 for lot in lots if (lot["unrealized_gain"] or 0.0) < 0)
    return (
        f"{len(lots)} tax lots ({losses} at a loss): unrealized short-term "
        f"{dollars(gain(False))}, long-term {dollars(gain(True))}"
    )


def _active_windows(artifacts: Artifacts, household_id: str | None) -> list[dict[str, Any]]:
    """The household's stored windows (the stored table holds those active on the date)."""
    windows = artifacts.table("wash_sale_windows")
    if windows is None or household_id is None:
        return []
    return (
        windows.filter(pl.col("household_id") == household_id)
        .sort("identical_group", "blocks", "window_start", "source_transaction_id")
        .to_dicts()
    )


def _window_source(window: dict[str, Any]) -> str:
    """Where the window comes from; for a sell, where its gain comes from."""
    source = f"from {window['source_account_id']} {window['source_transaction_id']}"
    gain = window.get("gain_source")
    return f"{source}, gain: {GAIN_SOURCE_TEXT.get(gain, gain)}" if gain else source


def _optimizer(artifacts: Artifacts, account_id: str, decision: dict, policy: Policy) -> Section:
    title = "Optimizer"
    has_problem = bool(artifacts.rows("optimization_problems", "account_id", account_id))
    results = artifacts.rows("optimization_results", "account_id", account_id)
    if not has_problem and not results:
        status = artifacts.rows("account_status", "account_id", account_id)
        why = status[0]["status"] if status and status[0]["status"] != "ok" else decision["route"]
        line = f"not optimized: {why.lower()} (no stored problem for the account)"
        return Section("optimizer", title, [line], {"problem_stored": False, "result": None})
    lines = [f"optimizer inputs stored: {'yes' if has_problem else 'no'}"]
    if not results:
        missing = artifacts.table("optimization_results") is None
        lines.append(
            artifacts.missing("optimization_results") if missing else "no result for the account"
        )
        return Section("optimizer", title, lines, {"problem_stored": has_problem, "result": None})
    r = results[0]
    lines += [
        f"solve {r['solve_status']}" + (f": {r['status_detail']}" if r["status_detail"] else ""),
        *_trade_rules(artifacts, account_id, policy),
        f"score {dollars(r['score_usd'])} = {_bps(r['score_bps'])} "
        f"of {dollars(r['account_value'])}",
        f"  benefit: risk {dollars(r['benefit_risk_usd'])}, tax loss "
        f"{dollars(r['benefit_tax_loss_usd'])}, quality {dollars(r['benefit_quality_usd'])}"
        + _transition_benefit(r),
        f"  cost: transactions {dollars(r['cost_transaction_usd'])}, "
        + _impact(r)
        + f"tax {dollars(r['cost_tax_usd'])}",
        f"tracking error {_pct(r['tracking_error_before'])} -> {_pct(r['tracking_error_after'])}",
        f"cash {dollars(r['cash_before'])} -> {dollars(r['cash_after'])} "
        f"(withdrawals due {dollars(r['required_cash'])})",
        f"{r['trade_count']} trades, turnover {dollars(r['turnover_usd'])}, "
        + _gains(r)
        + (", touches a halted security" if r["touches_halted"] else ""),
        *_gain_budget_use(r),
    ]
    return Section("optimizer", title, lines, {"problem_stored": has_problem, "result": r})


def _trade_rules(artifacts: Artifacts, account_id: str, policy: Policy) -> list[str]:
    """What the account's rebalance type and the long-term deferral forbade, from its
    stored problem (none for a date stored before the problem held them)."""
    problems = artifacts.table("optimization_problems")
    if problems is None or not set(PROBLEM_SCHEMA).issubset(problems.columns):
        return []
    mine = problems.filter(pl.col("account_id") == account_id).select(list(PROBLEM_SCHEMA))
    return [line for problem in problems_from_frame(mine) for line in describe(problem, policy)]


def _gain_budget_use(result: dict) -> list[str]:
    """Today's net realized gains against the gain budget (none without a budget, or for a
    date stored before results had the column)."""
    overrun = result.get("gain_budget_overrun_usd")
    if overrun is None:
        return []
    today = (result["realized_gain_st"] or 0.0) + (result["realized_gain_lt"] or 0.0)
    line = f"gain budget: today's net realized gains {dollars(today)}"
    if overrun > 0:
        return [f"{line}, over the remaining budget by {dollars(overrun)} (gain_budget_overrun)"]
    return [f"{line}, within the remaining budget"]


def _transition_benefit(result: dict) -> str:
    """The policy's value of a transition's sales (nothing outside a transition, or for a
    date stored before results had the column)."""
    value = result.get("benefit_transition_usd")
    return f", transition {dollars(value)}" if value else ""


def _impact(result: dict) -> str:
    impact = result["cost_market_impact_usd"]
    return "" if impact is None else f"market impact {dollars(impact)}, "


def _gains(result: dict) -> str:
    """Realized gains where they have a tax effect (null outside taxable accounts)."""
    if result["realized_gain_st"] is None and result["realized_gain_lt"] is None:
        return "realized gains: none with a tax effect (tax-deferred account)"
    return (
        f"realized gains short-term {dollars(result['realized_gain_st'])}, "
        f"long-term {dollars(result['realized_gain_lt'])}"
    )


def _bps(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} bps"


def _threshold(_a: Artifacts, _id: str, decision: dict, policy: Policy) -> Section:
    title = "Score vs threshold"
    group = group_named(policy, decision["account_group"])
    curve = group.threshold if group else None
    data = {
        "score_bps": decision["score_bps"],
        "threshold_bps": decision["threshold_bps"],
        "account_group": decision["account_group"],
        "days_since_last_trade": decision["days_since_last_trade"],
        "curve": curve.model_dump() if curve else None,
        "trigger": policy.workflow.trigger,
    }
    if decision["route"] in UNSCORED_ROUTES:
        return Section("threshold", title, [f"not compared: {decision['route'].lower()}"], data)
    days = decision["days_since_last_trade"]
    lines = [
        f"score {_bps(decision['score_bps'])} vs threshold {_bps(decision['threshold_bps'])} "
        f"(trigger {policy.workflow.trigger})",
        f"group {decision['account_group']}, days since last trade "
        f"{'none (never traded)' if days is None else days}",
    ]
    if curve and days is None:
        lines.append(f"curve of the group: never traded, so its floor {curve.floor_bps:g} bps")
    elif curve:
        lines.append(
            f"curve of the group: {curve.floor_bps:g} + ({curve.start_bps:g} - "
            f"{curve.floor_bps:g}) * exp(-{days} / {curve.time_constant_days:g}) "
            f"= {curve.at(days):.1f} bps"
        )
    else:
        lines.append(f"group {decision['account_group']} is not in the policy of the date")
    return Section("threshold", title, lines, data)


def _routing(_a: Artifacts, _id: str, decision: dict, _p: Policy) -> Section:
    flags = ", ".join(decision["outlier_flags"] or []) or "none"
    lines = [
        f"route {decision['route']}: {decision['rule']}",
        f"reasons: {', '.join(decision['reasons'] or []) or 'none'}",
        f"review policy {decision['review_policy']} -> review {decision['review'] or 'n/a'} "
        f"(outlier flags: {flags})",
    ]
    return Section("routing", "Routing", lines, {"decision": decision})


def _trades(artifacts: Artifacts, account_id: str, decision: dict, _p: Policy) -> Section:
    title = "Trades"
    batch_id = current_batch_id(artifacts.day, artifacts.home)
    rows: list[dict[str, Any]] = []
    lines = []
    if batch_id is None:
        lines.append(f"no trade files for {artifacts.day.isoformat()}")
    else:
        batch = read_batch(artifacts.day, batch_id, artifacts.home)
        rows = batch.rows.filter(pl.col("account_id") == account_id).to_dicts()
        lines.append(f"batch {batch_id}: {len(rows)} rows of the account in the trade files")
        if batch.mismatched_files:
            lines.append(f"WARNING: files changed since written: {batch.mismatched_files}")
        lines += [_trade_file_line(r) for r in rows]
    queued = artifacts.rows("review_queue", "account_id", account_id)
    if queued:
        decided = _review_decisions(artifacts, account_id)
        lines.append(f"{len(queued)} trades went to the review queue")
        lines += [
            f"  {q['side']} {_shares(q['quantity'])} {q['security_id']}"
            f"{' lot ' + q['lot_id'] if q['lot_id'] else ''} "
            f"({decision_text(decided.get(_trade_key(q)))})"
            for q in queued
        ]
        for review in review_batches(artifacts.day, artifacts.home):
            reviewed = review.rows.filter(pl.col("account_id") == account_id).to_dicts()
            if reviewed:
                lines.append(f"review batch {review.batch_id}: {len(reviewed)} rows of the account")
                lines += [_trade_file_line(r) for r in reviewed]
                rows += reviewed
    if not rows and not queued:
        lines.append(f"no trades: route {decision['route']}")
    return Section(
        "trades",
        title,
        lines,
        {"batch_id": batch_id, "trade_file_rows": rows, "review_queue": queued},
    )


def _trade_file_line(row: dict[str, str]) -> str:
    return (
        f"  {row['file']}: {row['side']} {row['quantity']} {row['security_id']} @ "
        f"{row['estimated_price']}{' lot ' + row['lot_id'] if row['lot_id'] else ''} "
        f"({row['reason_code']}, {row['review_level']})"
    )


def _trade_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["security_id"], row["side"], row["lot_id"])


def _review_decisions(artifacts: Artifacts, account_id: str) -> dict[tuple[Any, ...], dict]:
    """The account's settled review decisions (``review_outcomes``) by trade."""
    outcomes = artifacts.rows("review_outcomes", "account_id", account_id)
    return {_trade_key(row): row for row in outcomes}


def decision_text(outcome: dict[str, Any] | None) -> str:
    """A settled decision as ``approve by Dana at 2026-03-16T21:30:00Z``, a modified
    quantity and the note added; ``decision pending`` without one."""
    if outcome is None:
        return "decision pending"
    modified = f" to {_shares(outcome['quantity'])}" if outcome["decision"] == "modify" else ""
    note = f": {outcome['note']}" if outcome["note"] else ""
    return (
        f"{outcome['decision']}{modified} by {outcome['reviewer']} at {outcome['decided_at']}{note}"
    )


def _counterfactual(artifacts: Artifacts, _id: str, decision: dict, policy: Policy) -> Section:
    line = counterfactual(decision, policy, artifacts.day)
    return Section("counterfactual", "Counterfactual", [line], {"line": line})


SECTION_BUILDERS = (
    _sources,
    _data_quality,
    _features,
    _optimizer,
    _threshold,
    _routing,
    _trades,
    _counterfactual,
)
