"""The Dagster UI, checked in headless Chromium against a freshly materialized sample date.

Run with ``make browser-test`` (installs Debian's chromium when it is missing). The test
materializes the sample book's latest date into a temporary Dagster instance, starts
``dagster-webserver`` on 127.0.0.1 against it, and checks the lineage, the partition
status and the asset checks the definitions declare; screenshots go to
``var/test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
ARTIFACTS = ROOT / "var" / "test-artifacts"
SERVER_START_SECONDS = 180
PAGE_SECONDS = 60

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make browser-test`"
    ),
]


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def materialized_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dt.date]:
    """The environment of a home whose Dagster instance holds the latest sample date's run."""
    from rebalance_pipeline.storage import latest_drop_date

    home = tmp_path_factory.mktemp("home")
    (home / "dagster").mkdir()
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        "REBALANCE_HOME": str(home),
        "REBALANCE_BOOK": str(SAMPLE),
        "DAGSTER_HOME": str(home / "dagster"),
    }
    day = latest_drop_date(SAMPLE)
    with environment(**env), dg.DagsterInstance.get() as instance:
        from rebalance_pipeline.definitions import defs

        result = defs.resolve_job_def("daily_rebalance").execute_in_process(
            partition_key=day.isoformat(), instance=instance
        )
        assert result.success
    return env, day


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {server.returncode}:\n{log.read_text()}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/server_info", timeout=5) as response,
        ):
            if response.status == 200:
                return
        time.sleep(1)
    pytest.fail(f"no answer from dagster-webserver in {SERVER_START_SECONDS}s:\n{log.read_text()}")


def stop(server: subprocess.Popen) -> None:
    """Stop the webserver and its code server (its own process group)."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def webserver(
    materialized_home: tuple[dict[str, str], dt.date], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    env, _ = materialized_home
    port = free_port()
    log = tmp_path_factory.mktemp("webserver") / "webserver.log"
    command = [
        str(Path(sys.executable).parent / "dagster-webserver"),
        *("-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)),
    ]
    with log.open("w") as out:
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(url, server, log)
        yield url
    finally:
        stop(server)


@pytest.fixture(scope="module")
def page(webserver: str) -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1600, "height": 1000})
            tab.set_default_timeout(PAGE_SECONDS * 1000)
            yield tab
        finally:
            browser.close()


def open_page(page, url: str, ready_text: str) -> None:
    """Go to ``url``, wait for ``ready_text``, and dismiss Dagster's first-visit dialog."""
    page.goto(url)
    page.get_by_text(ready_text).first.wait_for()
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()
        skip.first.wait_for(state="detached")


def screenshot(page, name: str, capsys: pytest.CaptureFixture) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"ui-{name}.png"
    page.screenshot(path=str(path))
    with capsys.disabled():
        print(f"\nscreenshot: {path}")
    return path


def test_the_lineage_shows_routing_decisions_and_its_inputs(
    page, webserver: str, capsys: pytest.CaptureFixture
) -> None:
    from rebalance_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("routing_decisions"))
    parents = sorted(key.to_user_string() for key in node.parent_keys)
    assert parents, "routing_decisions has no upstream assets"
    url = f"{webserver}/assets/routing_decisions?view=lineage&lineageScope=upstream&lineageDepth=1"
    open_page(page, url, "Graph depth")
    nodes = page.locator("[class*=AssetNode_assetName]")
    nodes.first.wait_for()
    page.wait_for_function(
        "count => document.querySelectorAll('[class*=AssetNode_assetName]').length >= count",
        arg=len(parents) + 1,
    )
    shown = nodes.all_inner_texts()
    for key in ["routing_decisions", *parents]:
        assert any(shows(text, key) for text in shown), f"{key} not in the lineage: {shown}"
    screenshot(page, "lineage-routing_decisions", capsys)


def shows(text: str, name: str) -> bool:
    """Whether a node label shows ``name``, whole or middle-truncated (``optimizat…_results``)."""
    head, ellipsis, tail = text.strip().partition("\u2026")
    if not ellipsis:
        return head == name
    return name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail)


def test_the_latest_date_shows_as_materialized(
    page,
    webserver: str,
    materialized_home: tuple[dict[str, str], dt.date],
    capsys: pytest.CaptureFixture,
) -> None:
    _, day = materialized_home
    url = f"{webserver}/assets/routing_decisions?view=partitions&partition={day.isoformat()}"
    open_page(page, url, "Latest materialization")
    page.get_by_text("Materialized (1)", exact=True).wait_for()  # the status filter's count
    page.get_by_text("Materialized", exact=True).wait_for()  # the selected partition's tag
    page.get_by_text("daily_rebalance", exact=True).first.wait_for()  # the run's job
    assert page.get_by_text("None", exact=True).count() == 0, "partition has no materialization"
    screenshot(page, "partitions-routing_decisions", capsys)


def checks_by_asset() -> dict[str, list[str]]:
    """Asset -> the names of its asset checks, as the definitions declare them."""
    from rebalance_pipeline.definitions import defs

    by_asset: dict[str, list[str]] = {}
    for check in defs.resolve_asset_graph().asset_check_keys:
        by_asset.setdefault(check.asset_key.to_user_string(), []).append(check.name)
    return {asset: sorted(names) for asset, names in sorted(by_asset.items())}


def test_the_asset_checks_tab_shows_the_checks_of_the_definitions(
    page, webserver: str, capsys: pytest.CaptureFixture
) -> None:
    checks = checks_by_asset()
    assert checks, "the definitions declare no asset checks"
    # the asset with the most checks (ties: the first by name), every one of them shown
    asset = max(checks, key=lambda name: len(checks[name]))
    open_page(page, f"{webserver}/assets/{asset}?view=checks", "Checks")
    page.get_by_text(f"Checks ({len(checks[asset])})", exact=True).wait_for()
    for name in checks[asset]:
        page.get_by_text(name, exact=True).first.wait_for()
    assert page.get_by_text("No checks defined", exact=False).count() == 0
    screenshot(page, f"checks-{asset}", capsys)


def test_the_data_docs_of_the_date_open(
    page, materialized_home: tuple[dict[str, str], dt.date], capsys: pytest.CaptureFixture
) -> None:
    env, day = materialized_home
    index = Path(env["REBALANCE_HOME"]) / "data_docs" / day.isoformat() / "index.html"
    assert index.is_file(), f"the run wrote no GX data docs at {index}"
    page.goto(index.as_uri())
    page.get_by_text("Validation Results").first.wait_for()  # the GX data docs index
    # the data docs live in the temporary home: keep a copy next to the screenshot
    shutil.copytree(index.parent, ARTIFACTS / f"data_docs-{day.isoformat()}", dirs_exist_ok=True)
    screenshot(page, f"data_docs-{day.isoformat()}", capsys)
