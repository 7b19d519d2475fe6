"""Findings grouped by cause and file: what ``status`` and the daily report count."""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.validation import status_report
from rebalance_pipeline.validation.status import findings_by_cause_and_file

DAY = dt.date(2026, 3, 16)
CASH = "drops/2026-03-16/alder/cash_20260316.csv"
LOTS = "drops/2026-03-16/birch/LOTS.260316.dat"


def findings(*rows: tuple[str, str, str | None, int | None, list[str]]) -> pl.DataFrame:
    """(check, severity, source_file, source_row, account_ids) per finding."""
    if not rows:
        return t.empty(t.FINDINGS)
    frame = pl.DataFrame(
        [
            {
                "finding_id": f"F{n}",
                "trade_date": DAY,
                "check": check,
                "severity": severity,
                "source_file": source_file,
                "source_row": source_row,
                "account_ids": accounts,
                "message": f"finding {n}",
            }
            for n, (check, severity, source_file, source_row, accounts) in enumerate(rows)
        ]
    )
    return t.conform(frame, t.FINDINGS)


def status_of(accounts: dict[str, list[str]]) -> pl.DataFrame:
    """account -> its suspending checks (none: ok)."""
    frame = pl.DataFrame(
        {
            "account_id": list(accounts),
            "status": ["suspended" if reasons else "ok" for reasons in accounts.values()],
            "reason_codes": list(accounts.values()),
            "finding_ids": [[] for _ in accounts],
        },
        schema={
            "account_id": pl.String,
            "status": pl.String,
            **{"reason_codes": pl.List(pl.String), "finding_ids": pl.List(pl.String)},
        },
    )
    return t.conform(frame, t.ACCOUNT_STATUS)


SAMPLE_FINDINGS = findings(
    ("wrong_encoding", "error", CASH, None, ["A3", "A1", "A2"]),
    ("malformed_row", "error", LOTS, 4, ["A7"]),
    ("malformed_row", "error", LOTS, 9, ["A7"]),
    ("malformed_row", "error", LOTS, 12, ["A8"]),
    ("unknown_security", "error", LOTS, 15, ["A8"]),
    ("unknown_realized_gain", "warning", None, None, ["A9"]),
)


def test_one_group_per_cause_and_file_counts_distinct_accounts():
    groups = findings_by_cause_and_file(SAMPLE_FINDINGS)
    assert groups.select("check", "severity", "source_file", "findings", "accounts").rows() == [
        ("wrong_encoding", "error", CASH, 1, 3),
        ("malformed_row", "error", LOTS, 3, 2),
        ("unknown_security", "error", LOTS, 1, 1),
        ("unknown_realized_gain", "warning", None, 1, 1),
    ]
    assert groups["account_ids"].to_list()[:2] == [["A1", "A2", "A3"], ["A7", "A8"]]


def test_no_findings_make_no_groups():
    assert findings_by_cause_and_file(findings()).is_empty()


def test_status_prints_one_line_per_cause_and_file_without_the_accounts():
    status = status_of({"A1": ["wrong_encoding"], "A2": ["wrong_encoding"], "A3": [], "A4": []})
    lines = status_report(SAMPLE_FINDINGS, status).splitlines()
    start = lines.index("findings by cause and file:")
    assert lines[start + 1 : start + 6] == [
        f"  wrong_encoding               error         1 findings      3 accounts  {CASH}",
        f"  malformed_row                error         3 findings      2 accounts  {LOTS}",
        f"  unknown_security             error         1 findings      1 accounts  {LOTS}",
        "  unknown_realized_gain        warning       1 findings      1 accounts  (no file)",
        "",
    ]
    assert lines[-1] == "suspended accounts: 2 (list them with --accounts)"
    assert not any(line.startswith("  A") for line in lines)


def test_status_lists_the_suspended_accounts_when_asked():
    status = status_of({"A1": ["wrong_encoding"], "A2": ["malformed_row"], "A3": []})
    lines = status_report(SAMPLE_FINDINGS, status, list_accounts=True).splitlines()
    assert lines[lines.index("suspended accounts:") + 1 :] == [
        "  A1               wrong_encoding",
        "  A2               malformed_row",
    ]
