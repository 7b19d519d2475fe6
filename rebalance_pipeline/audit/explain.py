"""Why did account A trade, or not, on date D: the decision chain from stored artifacts.

Every link is read from what the date's run stored (warehouse partitions and the dated
trade files), never recomputed: source files -> data quality -> features -> optimizer ->
score vs threshold -> routing -> trade files or review queue -> counterfactual. A link
that does not apply to the account (a suspended account has no optimizer result) says
so instead of being left out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import Any

from rebalance_pipeline import storage
from rebalance_pipeline.audit.artifacts import Artifacts
from rebalance_pipeline.audit.batches import AuditError
from rebalance_pipeline.audit.sections import SECTION_BUILDERS, Section
from rebalance_pipeline.policy import Policy, book_policy


@dataclasses.dataclass(frozen=True)
class Explanation:
    account_id: str
    day: dt.date
    sections: list[Section]

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(f"no section {key!r}; sections: {[s.key for s in self.sections]}")

    def to_text(self) -> str:
        header = f"Why {self.account_id} did or did not trade on {self.day.isoformat()}"
        parts = [header, "=" * len(header)]
        for number, section in enumerate(self.sections, start=1):
            parts.append(f"\n{number}. {section.title}")
            parts.extend(f"   {line}" for line in section.lines)
        return "\n".join(parts) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "date": self.day.isoformat(),
            "sections": [json_safe(dataclasses.asdict(section)) for section in self.sections],
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Explanation:
        return cls(
            account_id=record["account_id"],
            day=dt.date.fromisoformat(record["date"]),
            sections=[Section(**section) for section in record["sections"]],
        )


def json_safe(value: Any) -> Any:
    """Dates as ISO text, NaN and infinities as null, containers recursively."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def explain(
    account_id: str, day: dt.date, home: Path | None = None, policy: Policy | None = None
) -> Explanation:
    """The decision chain of ``account_id`` on ``day`` from the artifacts under ``home``.

    ``policy`` defaults to the book's policy in force on ``day`` (``$REBALANCE_BOOK``).
    Raises ``AuditError`` for a date that was not materialized or an unknown account.
    """
    artifacts = Artifacts(day, home)
    decision = _decision(artifacts, account_id)
    policy = policy or book_policy(storage.book_root(), day)
    sections = [build(artifacts, account_id, decision, policy) for build in SECTION_BUILDERS]
    return Explanation(account_id=account_id, day=day, sections=sections)


def _decision(artifacts: Artifacts, account_id: str) -> dict[str, Any]:
    decisions = artifacts.table("routing_decisions")
    if decisions is None:
        dates = storage.materialized_dates("routing_decisions", artifacts.home)
        listed = ", ".join(d.isoformat() for d in dates) or "none"
        raise AuditError(
            f"{artifacts.day.isoformat()} is not materialized under "
            f"{storage.warehouse(artifacts.home)} (dates with decisions: {listed}); "
            f"run: rebalance run --date {artifacts.day.isoformat()}"
        )
    found = artifacts.rows("routing_decisions", "account_id", account_id)
    if not found:
        raise AuditError(
            f"unknown account {account_id!r} on {artifacts.day.isoformat()}: no routing "
            f"decision for it among the date's {decisions.height} accounts"
        )
    return found[0]
