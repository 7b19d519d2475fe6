"""The GX data docs of a date, opened in headless Chromium with every network request
refused: the pages load only local files and show Bootstrap's layout."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import SampleRun

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make browser-test`"
    ),
]


def test_the_data_docs_are_styled_offline(sample_run: SampleRun, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    docs = sample_run.home / "data_docs" / sample_run.day.isoformat()
    pages = [docs / "index.html", next((docs / "validations").rglob("*.html"))]
    network = []

    def refuse(route) -> None:
        network.append(route.request.url)
        route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 900})
            tab.route("http*://**", refuse)
            for number, page in enumerate(pages):
                tab.goto(page.as_uri(), wait_until="load")
                # Bootstrap's grid: a .row is a flex container only when bootstrap.css loaded
                display = tab.evaluate("getComputedStyle(document.querySelector('.row')).display")
                assert display == "flex", f"{page.name} is unstyled"
                tab.screenshot(path=str(tmp_path / f"data_docs-{number}.png"), full_page=True)
        finally:
            browser.close()
    assert network == []
