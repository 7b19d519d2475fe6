"""The daily report page of the sample's latest date, opened from disk in headless
Chromium with the network cut off: every section there, every plot drawn. The
screenshot goes to the test's temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from rebalance_pipeline import storage

CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = ("accounts", "suspensions", "manual", "trades", "drift", "scores", "outliers")
SECTIONS += ("holds", "transitions", "tax", "changes")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make browser-test`"
    ),
]


def test_the_report_renders_offline_with_its_sections_and_plots(sample_run, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    page_file = storage.report_file(sample_run.day, sample_run.home)
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            shown = [page.locator(f"section#{key} h2").inner_text() for key in SECTIONS]
            widths = page.eval_on_selector_all("img", "images => images.map(i => i.naturalWidth)")
            suspension = page.locator("section#suspensions tbody tr").first.inner_text()
            page.screenshot(path=str(tmp_path / "daily-report.png"), full_page=True)
        finally:
            browser.close()
    assert all(shown)
    assert len(widths) == 3 and all(width > 0 for width in widths)
    assert "price_jump" in suspension and "74" in suspension
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert (tmp_path / "daily-report.png").stat().st_size > 0
