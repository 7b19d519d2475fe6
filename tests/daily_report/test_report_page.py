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
from rebalance_pipeline.daily_report.page import _transitions as transitions_section
from rebalance_pipeline.review.records import REVIEW_OUTCOMES
from rebalance_pipeline.tables import TRANSITION_PROGRESS

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
