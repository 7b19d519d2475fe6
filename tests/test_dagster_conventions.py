"""Dagster conventions every asset and run of the code location keeps (issue 16 §4)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import SampleRun

DEFAULT_GROUP = "default"  # where Dagster puts an asset whose definition names no group


def test_no_asset_sits_in_the_default_group() -> None:
    """Asset checks show under their asset, so this covers them too."""
    from rebalance_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    in_default = sorted(
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == DEFAULT_GROUP
    )
    assert in_default == []


def test_every_asset_check_is_evaluated_for_the_date_of_its_run(sample_run: SampleRun) -> None:
    """The checks run per business day like their assets: each evaluation names the date,
    so the UI shows a check's result per partition (the Great Expectations suites too)."""
    by_check = {
        evaluation.asset_check_key.to_user_string(): evaluation.partition
        for evaluation in sample_run.check_evaluations
    }
    assert "data_quality_issues:great_expectations" in by_check
    assert by_check == dict.fromkeys(by_check, sample_run.day.isoformat())


def test_a_run_launched_without_a_tag_is_tagged_with_what_it_did(sample_run: SampleRun) -> None:
    """A run started from the UI or a Dagster backfill carries no tag at launch: the step
    that releases or replays sets it."""
    import json

    from rebalance_pipeline import storage
    from rebalance_pipeline.export.release_tag import RELEASE_MODE_TAG

    files = storage.read_partition("trade_files", sample_run.day, sample_run.home)["file"]
    [manifest] = [name for name in files if name.endswith("manifest.json")]
    released = json.loads((sample_run.home / manifest).read_text())["release"]
    assert sample_run.tags[RELEASE_MODE_TAG] == ("release" if released else "replay")


def test_the_data_docs_link_of_the_expectations_check_opens_over_http(
    sample_run: SampleRun,
) -> None:
    """Browsers do not follow a file:// link from the UI: the check links the page as the
    data docs server of ``make dagster-dev`` serves the home's data_docs/."""
    import socket
    import urllib.parse
    import urllib.request

    from rebalance_pipeline.ui import DocsServer

    [gx] = [e for e in sample_run.check_evaluations if e.check_name == "great_expectations"]
    link = urllib.parse.urlsplit(gx.metadata["data_docs"].value)
    assert (link.scheme, link.hostname) == ("http", "127.0.0.1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = DocsServer(sample_run.home / "data_docs", port)
    server.start()
    try:
        for _ in range(50):
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}{link.path}", timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        assert "Validation Results" in page.read().decode()
    finally:
        server.stop()
