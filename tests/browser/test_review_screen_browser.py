"""The review screen in headless Chromium: decide and release a queued account.

``rebalance review serve`` runs on a free port against a copy of the materialized sample
date; the test opens the queue, modifies a quantity, rejects a trade, approves the rest,
releases, then reads the released trade file. The screenshot goes to the test's tmp_path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import test_ui
from sample_review import SampleCopy, sample_copy
from test_ui import CHROMIUM, CHROMIUM_ARGS, PAGE_SECONDS, free_port, stop

START_SECONDS = 60

pytestmark = test_ui.pytestmark  # marked browser, skipped without Chromium


@pytest.fixture
def copy(
    materialized_sample: tuple[Path, dt.date], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SampleCopy:
    return sample_copy(materialized_sample, tmp_path, monkeypatch)


@pytest.fixture
def review_server(copy: SampleCopy, tmp_path: Path) -> Iterator[str]:
    """``rebalance review serve`` of the copy's date on a free local port."""
    port = free_port()
    log = tmp_path / "serve.log"
    command = [
        str(Path(sys.executable).parent / "rebalance"),
        *("review", "serve", "--date", copy.day.isoformat(), "--book", str(copy.book)),
        *("--port", str(port)),
    ]
    with log.open("w") as out:
        server = subprocess.Popen(
            command, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _answers(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"review serve did not answer:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        stop(server)


def _answers(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
        return response.status == 200
    return False


def test_modify_reject_approve_and_release(copy, review_server, tmp_path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    queue = copy.queue()
    account = next(
        key[0]
        for key, trades in queue.group_by("account_id", maintain_order=True)
        if trades.filter(pl.col("side") == "buy").height >= 2
    )
    trades = queue.filter(pl.col("account_id") == account)
    modified, rejected = trades.filter(pl.col("side") == "buy").head(2).to_dicts()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(PAGE_SECONDS * 1000)
            page.goto(review_server)
            body = f"#account-{account}"
            page.click(f"{body} button.expand")

            def row(trade: dict):
                return page.locator(
                    f'{body} tr.trade[data-security="{trade["security_id"]}"][data-side="buy"]'
                )

            row(modified).locator("select").select_option("modify")
            row(modified).get_by_label("new quantity").fill("1")
            row(modified).get_by_label("note").fill("cut to one share")
            row(modified).get_by_role("button", name="Set").click()
            row(modified).locator("td.draft", has_text="modify to 1").wait_for()
            row(rejected).locator("select").select_option("reject")
            row(rejected).get_by_role("button", name="Set").click()
            row(rejected).locator("td.draft", has_text="reject").wait_for()
            page.locator(f"{body} .warning", has_text="partly decided").wait_for()
            page.screenshot(path=str(tmp_path / "review-screen.png"))

            page.get_by_role("button", name="Approve undecided").click()
            page.locator(
                f"{body} td.decided", has_text=f"{trades.height} / {trades.height}"
            ).wait_for()
            page.get_by_label("Reviewer").fill("Dana")
            page.get_by_role("button", name="Release decisions").click()
            page.locator(".released").wait_for()
            folder = Path(page.locator(".released code.folder").inner_text())
        finally:
            browser.close()

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "review" and manifest["release"] is True
    rows = pl.concat(
        [pl.read_csv(folder / file["name"], infer_schema=False) for file in manifest["files"]]
    ).filter(pl.col("account_id") == account)
    released = {
        (r["security_id"], r["side"], r["lot_id"] or ""): r["quantity"] for r in rows.to_dicts()
    }
    expected = {
        (t["security_id"], t["side"], t["lot_id"] or ""): t["quantity"]
        for t in trades.to_dicts()
        if t is not rejected
    }
    expected[(modified["security_id"], "buy", "")] = "1"
    del expected[(rejected["security_id"], "buy", "")]
    assert released == expected
    assert all(row["review_level"] == "review" for row in rows.to_dicts())
