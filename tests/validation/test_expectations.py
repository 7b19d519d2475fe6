"""Great Expectations suites: batch verdicts agree with the rules, data docs are written."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest
from conftest import AS_OF, BookFactory

from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation import validate_book
from rebalance_pipeline.validation.expectations import batches, run_expectations


def test_batches_carry_the_rule_verdicts(make_book: BookFactory) -> None:
    late = dt.datetime(2026, 3, 17, 7, 0, tzinfo=dt.UTC)
    book = make_book(
        source_files=lambda f: f.with_columns(
            arrived_at=pl.when(pl.col("source_file") == "c2/lots.csv")
            .then(pl.lit(late))
            .otherwise("arrived_at")
        )
    )
    frames = batches(book, Policy())
    assert sorted(frames) == [
        "custodian_files.C1",
        "custodian_files.C2",
        "lots",
        "positions",
        "prices",
    ]
    c2 = frames["custodian_files.C2"]
    assert c2["source_file"].to_list() == ["c2/lots.csv", "c2/positions.csv"]
    assert c2["arrived_before_cutoff"].to_list() == [False, True]


def test_a_file_far_shorter_than_its_recent_days_is_out_of_history(
    make_book: BookFactory,
) -> None:
    book = make_book(
        source_files=lambda f: f.with_columns(
            history_median_rows=pl.when(pl.col("source_file") == "c2/lots.csv")
            .then(pl.col("detail_rows") * 3)
            .otherwise(pl.col("detail_rows"))
        )
    )
    c2 = batches(book, Policy())["custodian_files.C2"]
    assert c2["rows_within_history"].to_list() == [False, True]


@pytest.fixture(scope="module")
def failing_report(tmp_path_factory: pytest.TempPathFactory):
    from conftest import healthy_frames

    from rebalance_pipeline.book import Book

    frames = healthy_frames()
    frames["prices"] = frames["prices"].with_columns(
        close=pl.when(pl.col("security_id") == "SEC-B").then(None).otherwise("close")
    )
    frames["lots"] = frames["lots"].with_columns(
        quantity=pl.when(pl.col("lot_id") == "L4").then(-5.0).otherwise("quantity")
    )
    frames["positions"] = frames["positions"].filter(pl.col("account_id") != "A3")
    book = Book.from_frames(AS_OF, **frames)
    docs = tmp_path_factory.mktemp("docs")
    return book, run_expectations(book, Policy(), docs), docs


def test_failing_batches_fail_and_healthy_ones_pass(failing_report) -> None:
    book, report, _ = failing_report
    by_batch = {s.batch: s for s in report.suites}
    assert sorted(by_batch) == [
        "custodian_files.C1",
        "custodian_files.C2",
        "lots",
        "positions",
        "prices",
    ]
    assert not report.success
    assert (by_batch["prices"].success, by_batch["prices"].unexpected_rows) == (False, 1)
    assert (by_batch["lots"].success, by_batch["lots"].unexpected_rows) == (False, 1)
    assert by_batch["positions"].success
    assert by_batch["custodian_files.C1"].success
    # the rules find the same two faults
    checks = validate_book(book, Policy()).findings["check"].to_list()
    assert checks == ["missing_price", "negative_quantity"]


def test_data_docs_index_is_written_per_date(failing_report) -> None:
    _, report, docs = failing_report
    assert report.docs_index == Path(docs) / "2026-03-16" / "index.html"
    assert report.docs_index.is_file()
    html = report.docs_index.read_text()
    assert "prices" in html and "lots" in html


def _loaded_references(html: str) -> list[str]:
    """What a browser fetches to show the page: script and image sources, linked sheets."""
    tags = re.findall(r"<(?:script|link|img)\b[^>]*>", html)
    return [url for tag in tags for url in re.findall(r'(?:src|href)="([^"]*)"', tag)]


def test_data_docs_pages_load_nothing_from_the_network(failing_report) -> None:
    """Opened offline, every page is styled: stylesheets, scripts and images are local."""
    _, report, _ = failing_report
    pages = sorted(report.docs_index.parent.rglob("*.html"))
    assert len(pages) > 5, "validation result pages missing"
    for page in pages:
        for url in _loaded_references(page.read_text()):
            assert not re.match(r"(https?:)?//", url), f"{page.name} loads {url}"
            local = (page.parent / url.split("?")[0]).resolve()
            assert local.is_file(), f"{page.name} refers to {url}, which is not in the site"


def test_data_docs_pages_use_the_bootstrap_styles_they_are_written_for(failing_report) -> None:
    _, report, _ = failing_report
    sheets = [url for url in _loaded_references(report.docs_index.read_text()) if "://" not in url]
    assert any("bootstrap" in Path(url).name and url.endswith(".css") for url in sheets)
    assert any("fontawesome" in url for url in sheets)  # the pass/fail icons
