"""One line on how far an account was from the other decision."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from rebalance_pipeline.calendar import business_days_between, exchange_calendar
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.routing.thresholds import day_threshold_reaches, group_named


def counterfactual(
    decision_row: dict[str, Any], policy: Policy, as_of: dt.date | None = None
) -> str:
    """How far the account of a ``ROUTING_DECISIONS`` row was from the other decision.

    For an account kept out by its score: the gap and the business days (XNYS) until the
    decaying threshold falls below the score if nothing else changes. For a traded
    account: the margin of its score over the threshold. Without ``as_of`` the wait is
    given in calendar days.
    """
    route, score = decision_row["route"], decision_row["score_bps"]
    threshold = decision_row["threshold_bps"]
    if route in ("SUSPENDED", "MANUAL", "HOLD", "HALT"):
        return f"{route}: no score comparison; {decision_row['rule']}"
    if score is None or threshold is None:
        return f"{route}: no score to compare with the threshold"
    if route in ("MANDATE", "SCORE"):
        margin = score - threshold
        relation = "over" if margin >= 0 else "under"
        alone = "would" if margin >= 0 else "would not"
        return (
            f"{route}: score {score:.1f} bps, {abs(margin):.1f} bps {relation} the threshold "
            f"{threshold:.1f} bps; on its score alone it {alone} have traded"
        )
    gap = f"score {score:.1f} bps under the threshold {threshold:.1f} bps"
    if score >= threshold:
        return f"{route}: score {score:.1f} bps clears the threshold {threshold:.1f} bps"
    return f"{route}: {gap}; {_when_threshold_falls(decision_row, policy, as_of)}"


def _when_threshold_falls(
    decision_row: dict[str, Any], policy: Policy, as_of: dt.date | None
) -> str:
    group = group_named(policy, decision_row["account_group"])
    days_since = decision_row["days_since_last_trade"]
    if group is None or days_since is None:
        return "the threshold does not decay further (never traded: it is at its floor)"
    reach = day_threshold_reaches(group.threshold, decision_row["score_bps"])
    if reach is None:
        return (
            "the threshold never falls below the score "
            f"(the score is at or under the floor {group.threshold.floor_bps:.1f} bps)"
        )
    calendar_days = max(1, math.ceil(reach) - days_since)
    if as_of is None:
        return f"the threshold falls below the score in {calendar_days} days if nothing changes"
    sessions = business_days_until(as_of, as_of + dt.timedelta(days=calendar_days))
    return f"the threshold falls below the score in {sessions} business days if nothing changes"


def business_days_until(as_of: dt.date, day: dt.date) -> int:
    """Sessions after ``as_of`` up to the first session on or after ``day``."""
    target = exchange_calendar().date_to_session(day.isoformat(), direction="next").date()
    return business_days_between(as_of, target)
