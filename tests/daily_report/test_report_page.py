"""The daily report of the sample's latest date, as the daily job's ``daily_report`` asset
wrote it and as ``rebalance report`` builds it again."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from rebalance_pipeline import storage
from rebalance_pipeline.cli import app
from rebalance_pipeline.daily_report.page import _tax_rules as tax_rules_section
from rebalance_pipeline.daily_report.page import _transitions as transitions_section
from rebalance_pipeline.review.records import REVIEW_OUTCOMES
from rebalance_pipeline.tables import ACCOUNT_VALUATIONS, GAIN_BUDGETS, TRANSITION_PROGRESS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def report(home: Path, day, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    return CliRunner().invoke(app, ["report", "--date", day.isoformat()])


def test_the_asset_writes_the_page_and_puts_the_markdown_in_its_metadata(sample_run):
    path = Path(sample_run.report_metadata["path"].value)
    assert path == sample_run.home / "reports" / f"{sample_run.day.isoformat()}.html"
    markdown = sample_run.report_metadata["report"].value
    assert "| price_jump | (no file) | 74 | A000006, A000007" in markdown
    assert "## Manual queue" in markdown
    assert "| awaiting review |" in markdown


def test_the_page_is_self_contained(sample_run):
    html = storage.report_file(sample_run.day, sample_run.home).read_text()
    assert not re.search(r"https?:", html)
    references = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert references and all(ref.startswith(("data:image/png;base64,", "#")) for ref in references)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 3
    assert all(base64.b64decode(image).startswith(PNG_SIGNATURE) for image in images)


def test_the_page_groups_suspensions_by_cause_and_file(sample_run):
    html = storage.report_file(sample_run.day, sample_run.home).read_text()
    row = "<td>price_jump</td><td>(no file)</td><td>74</td>"
    assert html.count(row) == 1


def test_report_builds_the_same_bytes_again_and_prints_the_path(sample_run, monkeypatch):
    page = storage.report_file(sample_run.day, sample_run.home)
    written = page.read_bytes()
    result = report(sample_run.home, sample_run.day, monkeypatch)
    assert result.exit_code == 0, result.output
    assert result.output == f"{page}\n"
    assert page.read_bytes() == written


def test_report_of_a_date_not_run_is_one_line(tmp_path, sample_run, monkeypatch):
    result = report(tmp_path, sample_run.day, monkeypatch)
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert f"has no partition for {sample_run.day.isoformat()}" in line
    assert "rebalance run --date" in line


def test_report_counts_the_review_decisions_recorded_after_the_run(
    sample_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    home = tmp_path / "home"
    shutil.copytree(storage.warehouse(sample_run.home), storage.warehouse(home))
    day = sample_run.day
    queue = storage.read_partition("review_queue", day, home)
    first, second = queue["account_id"].unique().sort()[:2]
    decided = queue.filter(pl.col("account_id").is_in([first, second])).with_columns(
        decision=pl.when(pl.col("account_id") == first)
        .then(pl.lit("approve"))
        .otherwise(pl.lit("reject")),
        reviewer=pl.lit("ops"),
        decided_at=pl.lit("2026-03-17T08:00:00Z"),
    )
    storage.write_partition(decided.select(REVIEW_OUTCOMES.names()), "review_outcomes", day, home)
    approved = decided.filter(pl.col("decision") == "approve")
    rejected = decided.filter(pl.col("decision") == "reject")

    assert report(home, day, monkeypatch).exit_code == 0
    html = storage.report_file(day, home).read_text()
    awaiting = queue.height - decided.height
    assert f"<td>released after review</td><td>{approved.height}</td><td>1</td>" in html
    assert f"<td>rejected in review</td><td>{rejected.height}</td><td>1</td>" in html
    assert f"<td>awaiting review</td><td>{awaiting}</td>" in html


def test_the_sample_has_no_account_in_transition(sample_run):
    markdown = sample_run.report_metadata["report"].value
    assert "## Transitions\n\nNo account is in transition." in markdown


def test_the_transitions_section_lists_each_account_s_progress():
    progress = pl.DataFrame(
        [
            ("T2", dt.date(2026, 2, 2), 100.0, 0.0, 100.0, 0.0, 0.0, True, None, None),
            ("T1", dt.date(2026, 1, 2), 450_000.0, 414_090.0, 35_800.0, 0.9202, 19_762.9,
             False, 20_000.0, 237.1),
        ],
        schema=TRANSITION_PROGRESS,
        orient="row",
    )  # fmt: skip
    section = transitions_section(progress)
    assert section.lines == ("2 accounts in transition to their model (before today's trades).",)
    assert section.tables[0].rows == (
        ("T1", "2026-01-02", "92.0%", "$35,800.00", "$19,762.90 (history incomplete)", "$237.10"),
        ("T2", "2026-02-02", "0.0%", "$100.00", "$0.00", "none"),
    )


def _valuations(types: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"account_id": list(types), "rebalance_type": list(types.values())}
    ).select(
        pl.col(name).cast(dtype) if name in ("account_id", "rebalance_type") else
        pl.lit(None, dtype).alias(name)
        for name, dtype in ACCOUNT_VALUATIONS.items()
    )  # fmt: skip


def _budgets(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=GAIN_BUDGETS, orient="row")


def _overruns(overruns: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"account_id": list(overruns), "gain_budget_overrun_usd": list(overruns.values())},
        schema={"account_id": pl.String, "gain_budget_overrun_usd": pl.Float64},
    )


def test_the_tax_rules_section_counts_rebalance_types_and_lists_gain_budgets():
    valuations = _valuations(
        {"A1": "normal", "A2": "buy_only", "A3": "raise_cash", "A4": "buy_only", "A5": "normal"}
    )
    year = dt.date(2026, 1, 2)
    budgets = _budgets(
        [
            ("A1", 8_000.0, 8_000.0, year, 0, True, 0.0),
            ("A2", None, 1_200.0, year, 0, True, None),  # no budget: not listed
            ("A3", 20_000.0, 4_500.5, dt.date(2026, 3, 2), 1, False, 0.0),
            ("A5", 5_000.0, -300.0, year, 0, True, 5_300.0),
        ]
    )
    section = tax_rules_section(valuations, budgets, _overruns({"A1": 5_050.0, "A5": 0.0}))
    assert section.lines == (
        "3 of 5 accounts rebalance under a rebalance type other than normal.",
        "3 accounts with an annual realized-gain budget, 1 over it today (a due cash "
        "request or a restriction needed the sales).",
    )
    types, budget_table = section.tables
    assert types.rows == (("buy_only", "2", "A2, A4"), ("raise_cash", "1", "A3"))
    assert budget_table.rows == (
        ("A1", "$8,000.00", "$8,000.00", "$0.00", "$5,050.00"),
        ("A3", "$20,000.00", "$4,500.50 (history incomplete)", "$0.00", "$0.00"),
        ("A5", "$5,000.00", "-$300.00", "$5,300.00", "$0.00"),
    )


def test_the_sample_rebalances_every_account_normally_without_budgets(sample_run):
    markdown = sample_run.report_metadata["report"].value
    assert (
        "## Rebalance types and gain budgets\n\nEvery account rebalances normally.\n\n"
        "No account has an annual realized-gain budget."
    ) in markdown
