"""A scenario's ``expect:`` block judged against its result (``scenario run --check``).

Each expectation key means what the acceptance format says it means (the acceptance
README's "Expectation keys") and fails with the words its checker uses, so a mismatch
reads the same here and there. Only the expectations are judged here: the workflow's
invariants are the stages' own rules, tested where they are made.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from rebalance_pipeline.scenario.dates import over_dates
from rebalance_pipeline.scenario.model import Lot, Scenario

SHARE_TOLERANCE = 1e-6
BAND_TOLERANCE = 0.005  # asset-class weights may leave their band by half a percent
KEPT_LOT_FRACTION = 0.05  # a kept lot may sell at most this fraction


@dataclasses.dataclass(frozen=True)
class Judged:
    """A scenario with its result JSON's accounts, and the facts expectations read off them."""

    scenario: Scenario
    accounts: dict[str, dict[str, Any]]

    def trades(self, account: str) -> list[dict[str, Any]]:
        return self.accounts.get(account, {}).get("trades") or []

    def lots(self, account: str) -> dict[str, Lot]:
        found = next((a for a in self.scenario.accounts if a.id == account), None)
        return {lot.id: lot for lot in found.lots} if found else {}

    def price(self, security: str) -> float | None:
        return next((s.price for s in self.scenario.securities if s.id == security), None)

    def sold_by_lot(self, account: str) -> dict[str | None, float]:
        sold: dict[str | None, float] = defaultdict(float)
        for trade in self.trades(account):
            if trade["side"] == "sell":
                sold[trade.get("lot_id")] += float(trade["quantity"])
        return sold

    def positions_before(self, account: str) -> dict[str, float]:
        held: dict[str, float] = defaultdict(float)
        for lot in self.lots(account).values():
            held[lot.security] += lot.quantity
        return held

    def positions_after(self, account: str) -> dict[str, float]:
        held = self.positions_before(account)
        for trade in self.trades(account):
            sign = 1 if trade["side"] == "buy" else -1
            held[trade["security"]] += sign * float(trade["quantity"])
        return held


Judge = Callable[[Judged, str, Any], Iterator[str]]


def expectation_mismatches(scenario: Scenario, result: dict[str, Any]) -> list[str]:
    """One line per expectation of ``scenario.expect`` the result does not meet,
    ``<account>: <what differs>``, in the order the block lists them; then those of each
    later date's ``expect``, ``<date> <account>: <what differs>``."""
    first = result.get("accounts", {})
    by_day = {day["as_of"]: day["accounts"] for day in result.get("dates", [])}
    later = over_dates(scenario, first, lambda s: by_day.get(s.as_of.isoformat(), {}))
    return _mismatches(scenario, first) + [
        f"{day.as_of} {mismatch}"
        for day, accounts in later
        for mismatch in _mismatches(day, accounts)
    ]


def _mismatches(scenario: Scenario, accounts: dict[str, dict[str, Any]]) -> list[str]:
    judged = Judged(scenario, accounts)
    mismatches = []
    for account, expected in scenario.expect.items():
        if account not in judged.accounts:
            mismatches.append(f"{account}: missing from the result")
            continue
        for key, want in (expected or {}).items():
            judge = EXPECTATIONS.get(key)
            if judge is None:
                mismatches.append(f"{account}: unknown expectation {key!r}")
                continue
            mismatches.extend(f"{account}: {problem}" for problem in judge(judged, account, want))
    return mismatches


def _route(judged: Judged, account: str, want: str) -> Iterator[str]:
    route = judged.accounts[account].get("route")
    if route != want:
        yield f"route {route}, expected {want}"


def _route_not(judged: Judged, account: str, want: list[str]) -> Iterator[str]:
    route = judged.accounts[account].get("route")
    if route in want:
        yield f"route {route}, expected none of {want}"


def _no_trades(judged: Judged, account: str, want: bool) -> Iterator[str]:
    if want and judged.trades(account):
        yield f"expected no trades, got {len(judged.trades(account))}"


def _same_field(field: str) -> Judge:
    def judge(judged: Judged, account: str, want: str) -> Iterator[str]:
        got = judged.accounts[account].get(field)
        if got != want:
            yield f"{field} {got!r}, expected {want!r}"

    return judge


def _sells_all(judged: Judged, account: str, want: list[str]) -> Iterator[str]:
    held = judged.positions_after(account)
    for security in want:
        if abs(held.get(security, 0.0)) > SHARE_TOLERANCE:
            yield f"still holds {held[security]} of {security}"


def _sells_some(judged: Judged, account: str, want: list[str]) -> Iterator[str]:
    for security in want:
        trades = judged.trades(account)
        if not any(t["security"] == security and t["side"] == "sell" for t in trades):
            yield f"expected a sell of {security}"


def _never_buys(judged: Judged, account: str, want: list[str]) -> Iterator[str]:
    for trade in judged.trades(account):
        if trade["side"] == "buy" and trade["security"] in want:
            yield f"buys {trade['security']}"


def _never_trades(judged: Judged, account: str, want: list[str]) -> Iterator[str]:
    for trade in judged.trades(account):
        if trade["security"] in want:
            yield f"trades {trade['security']}"


def _keeps_lots(judged: Judged, account: str, want: list[str]) -> Iterator[str]:
    sold, lots = judged.sold_by_lot(account), judged.lots(account)
    for lot_id in want:
        if lot_id in lots and sold.get(lot_id, 0.0) > KEPT_LOT_FRACTION * lots[lot_id].quantity:
            yield f"sells {sold[lot_id]} of lot {lot_id}, expected it kept"


def _sells_lot_fraction_at_least(
    judged: Judged, account: str, want: dict[str, float]
) -> Iterator[str]:
    sold, lots = judged.sold_by_lot(account), judged.lots(account)
    for lot_id, fraction in want.items():
        needed = fraction * lots[lot_id].quantity if lot_id in lots else 0.0
        if lot_id not in lots or sold.get(lot_id, 0.0) < needed - SHARE_TOLERANCE:
            yield (
                f"sells {sold.get(lot_id, 0.0)} of lot {lot_id}, expected at least {fraction:.0%}"
            )


def _cash_after_at_least(judged: Judged, account: str, want: float) -> Iterator[str]:
    cash = judged.accounts[account].get("cash_after")
    if cash is None or float(cash) < want - 0.01:
        yield f"cash after {cash}, expected at least {want}"


def _no_side(side: str) -> Judge:
    """The project's own ``no_sells`` / ``no_buys``: not one trade of that side."""

    def judge(judged: Judged, account: str, want: bool) -> Iterator[str]:
        trades = [t for t in judged.trades(account) if t["side"] == side]
        if want and trades:
            yield f"expected no {side}s, got {', '.join(t['security'] for t in trades)}"

    return judge


def _cash_after_at_most(judged: Judged, account: str, want: float) -> Iterator[str]:
    """The project's own key: the trades raised no more cash than this."""
    cash = judged.accounts[account].get("cash_after")
    if cash is None or float(cash) > want + 0.01:
        yield f"cash after {cash}, expected at most {want}"


def _reasons_include(judged: Judged, account: str, want: list[str]) -> Iterator[str]:
    """The project's own key: these reason codes are among the account's."""
    reasons = judged.accounts[account].get("reasons") or []
    missing = [reason for reason in want if reason not in reasons]
    if missing:
        yield f"reasons {reasons}, expected {missing} among them"


def _realized_gain(judged: Judged, account: str) -> float:
    """The gain of the sells at today's price over each lot's cost per share."""
    lots, gain = judged.lots(account), 0.0
    for trade in judged.trades(account):
        lot, price = lots.get(trade.get("lot_id")), judged.price(trade["security"])
        if trade["side"] == "sell" and lot and lot.quantity and price is not None:
            gain += float(trade["quantity"]) * (price - lot.cost_basis / lot.quantity)
    return gain


def _realized_gain_at_most(judged: Judged, account: str, want: float) -> Iterator[str]:
    gain = _realized_gain(judged, account)
    if gain > want:
        yield f"realized gain {gain:.0f}, expected at most {want}"


def _realized_gain_at_least(judged: Judged, account: str, want: float) -> Iterator[str]:
    """The project's own key: the sells realize at least this net gain."""
    gain = _realized_gain(judged, account)
    if gain < want:
        yield f"realized gain {gain:.0f}, expected at least {want}"


def _transition(judged: Judged, account: str) -> dict[str, Any]:
    return judged.accounts[account].get("transition") or {}


def _model_share_at_least(judged: Judged, account: str, want: float) -> Iterator[str]:
    """The project's own key: the account in transition holds at least this share of its
    value in model securities (the date's progress, before its trades)."""
    share = _transition(judged, account).get("model_share")
    if share is None or share < want - SHARE_TOLERANCE:
        yield f"model share {share}, expected at least {want}"


def _transition_gains_at_most(judged: Judged, account: str, want: float) -> Iterator[str]:
    """The project's own key: the net gains realized since the transition's start, the
    date's sells included (at its prices), are at most this."""
    before = _transition(judged, account).get("realized_gain_since_start")
    if before is None:
        yield "not in transition"
        return
    gain = before + _realized_gain(judged, account)
    if gain > want + 0.01:
        yield f"gains since the transition's start {gain:.2f}, expected at most {want}"


def _within_bands(judged: Judged, account: str, want: bool) -> Iterator[str]:
    """Asset-class weights after the trades, at today's prices, with the cash after the
    trades less the withdrawals due by the date."""
    if not want:
        return
    scenario = judged.scenario
    classes = {s.id: s.asset_class for s in scenario.securities}
    values = {
        security: quantity * (judged.price(security) or 0.0)
        for security, quantity in judged.positions_after(account).items()
        if security in classes
    }
    cash = judged.accounts[account].get("cash_after")
    due = sum(
        r.amount for r in scenario.cash_requests if r.account == account and r.due <= scenario.as_of
    )
    total = sum(values.values()) + (float(cash) if cash is not None else 0.0) - due
    by_class: dict[str, float] = defaultdict(float)
    for security, value in values.items():
        by_class[classes[security]] += value
    model = next(a.model for a in scenario.accounts if a.id == account)
    for asset_class, (low, high) in scenario.models[model].bands.items():
        weight = by_class.get(asset_class, 0.0) / total if total else 0.0
        if not low - BAND_TOLERANCE <= weight <= high + BAND_TOLERANCE:
            yield f"{asset_class} weight {weight:.3f} outside band [{low}, {high}] after the trades"
            return


def _threshold_greater_than(judged: Judged, account: str, other: str) -> Iterator[str]:
    mine = judged.accounts[account].get("threshold_bps")
    theirs = judged.accounts.get(other, {}).get("threshold_bps")
    if mine is None or theirs is None or not float(mine) > float(theirs):
        yield f"threshold {mine} bps not above {other}'s {theirs} bps"


def _trades_only_if_trades(judged: Judged, account: str, other: str) -> Iterator[str]:
    if judged.trades(account) and not judged.trades(other):
        yield f"trades while {other}, identical but longer untraded, does not"


def _score_route_clears_threshold(judged: Judged, account: str, want: bool) -> Iterator[str]:
    result = judged.accounts[account]
    if not want or result.get("route") != "SCORE":
        return
    score, threshold = result.get("score_bps"), result.get("threshold_bps")
    if score is None or threshold is None or float(score) < float(threshold):
        yield f"route SCORE with score {score} bps below the threshold {threshold} bps"


def _round_lots(judged: Judged, account: str, want: bool) -> Iterator[str]:
    """Each security's net buy or sell is a multiple of its round lot, unless the sell
    closes the position."""
    round_lot = {s.id: s.round_lot for s in judged.scenario.securities}
    before = judged.positions_before(account)
    net: dict[tuple[str, str], float] = defaultdict(float)
    for trade in judged.trades(account):
        net[(trade["security"], trade["side"])] += float(trade["quantity"])
    for (security, side), quantity in net.items():
        lot = round_lot.get(security, 1)
        closes = side == "sell" and abs(quantity - before[security]) < SHARE_TOLERANCE
        if not closes and abs(quantity / lot - round(quantity / lot)) > 1e-9:
            yield f"{side} {quantity} of {security} is not a multiple of {lot}"


EXPECTATIONS: dict[str, Judge] = {
    "route": _route,
    "route_not": _route_not,
    "no_trades": _no_trades,
    "review": _same_field("review"),
    "review_policy": _same_field("review_policy"),
    "sells_all": _sells_all,
    "sells_some": _sells_some,
    "never_buys": _never_buys,
    "never_trades": _never_trades,
    "keeps_lots": _keeps_lots,
    "sells_lot_fraction_at_least": _sells_lot_fraction_at_least,
    "cash_after_at_least": _cash_after_at_least,
    "realized_gain_at_most": _realized_gain_at_most,
    "within_bands": _within_bands,
    "threshold_greater_than": _threshold_greater_than,
    "trades_only_if_trades": _trades_only_if_trades,
    "score_route_clears_threshold": _score_route_clears_threshold,
    "round_lots": _round_lots,
    # the project's own keys (rebalance_pipeline/scenario/README.md)
    "no_sells": _no_side("sell"),
    "no_buys": _no_side("buy"),
    "cash_after_at_most": _cash_after_at_most,
    "reasons_include": _reasons_include,
    "realized_gain_at_least": _realized_gain_at_least,
    "model_share_at_least": _model_share_at_least,
    "transition_gains_at_most": _transition_gains_at_most,
}
