"""``make dagster-dev`` opens the instance runs write to, serves the data docs the UI links,
prints no warnings, and stops on Ctrl-C (SIGINT to its process group, as a terminal sends)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
START_SECONDS = 180
STOP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answer(url: str, body: dict | None = None) -> str | None:
    """The response text of ``url`` (a JSON POST when ``body`` is given), None if none."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode()
    return None


def wait_for(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, f"exited with {server.returncode}:\n{log.read_text()}"
        if answer(url) is not None:
            return
        time.sleep(1)
    pytest.fail(f"no answer from {url} in {START_SECONDS}s:\n{log.read_text()}")


@pytest.fixture
def dagster_dev(tmp_path: Path):
    """``make dagster-dev`` on free ports with a home of its own holding one data docs page:
    (Dagster UI url, data docs url, home, process, log)."""
    home = tmp_path / "home"
    (home / "data_docs" / "2026-03-16").mkdir(parents=True)
    (home / "data_docs" / "2026-03-16" / "index.html").write_text("<p>docs of 2026-03-16</p>")
    ui_port, docs_port = free_port(), free_port()
    env = {**os.environ, "REBALANCE_HOME": str(home), "REBALANCE_BOOK": str(SAMPLE)}
    env.pop("DAGSTER_HOME", None)
    log = tmp_path / "dagster-dev.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            ["make", "-s", "dagster-dev", f"DAGSTER_PORT={ui_port}", f"DOCS_PORT={docs_port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield f"http://127.0.0.1:{ui_port}", f"http://127.0.0.1:{docs_port}", home, server, log
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_dagster_dev_opens_the_runs_instance_and_stops_on_ctrl_c(dagster_dev) -> None:
    ui, docs, home, server, log = dagster_dev
    wait_for(f"{ui}/server_info", server, log)
    info = json.loads(answer(f"{ui}/graphql", {"query": "{ instance { info } }"}))
    assert str(home / "dagster") in info["data"]["instance"]["info"]
    assert (home / "dagster" / "dagster.yaml").is_file()
    assert answer(f"{docs}/2026-03-16/index.html") == "<p>docs of 2026-03-16</p>"
    assert answer(f"{docs}/../dagster/dagster.yaml") is None  # nothing outside data_docs/
    os.killpg(server.pid, signal.SIGINT)
    server.wait(timeout=STOP_SECONDS)
    output = log.read_text()
    assert "Dagster services shut down" in output, output
    assert "Warning" not in output, output
    assert answer(f"{docs}/2026-03-16/index.html") is None  # the data docs server stopped too
