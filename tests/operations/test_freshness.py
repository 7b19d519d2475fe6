"""The desk's deadline from ``firm/operations.yaml`` is the freshness policy of the outputs
the desk waits for (trade files, routing decisions), as the loaded Definitions carry it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rebalance_pipeline.operations.config import load_operations_config

DEADLINE_ASSETS = {"trade_files", "routing_decisions"}

POLICIES_OF_THE_DEFINITIONS = """
import json
from rebalance_pipeline.definitions import defs
graph = defs.resolve_asset_graph()
print(json.dumps({
    key.to_user_string(): [policy.deadline_cron, policy.timezone, str(policy.lower_bound_delta)]
    for key in graph.get_all_asset_keys()
    if (policy := graph.get(key).freshness_policy) is not None
}))
"""


def freshness_policies(book: Path) -> dict[str, list[str]]:
    """The freshness policies of the code location loaded for ``book``, by asset."""
    loaded = subprocess.run(
        [sys.executable, "-c", POLICIES_OF_THE_DEFINITIONS],
        env={**os.environ, "REBALANCE_BOOK": str(book)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(loaded.stdout)


def test_the_definitions_carry_the_desk_deadline_of_the_books_operations_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "firm").mkdir()
    (tmp_path / "firm" / "operations.yaml").write_text(
        "timezone: Europe/London\nschedule_time: '06:15'\ndesk_deadline: '08:45'\n"
    )
    expected = ["45 8 * * 2-6", "Europe/London", "1 day, 0:00:00"]
    assert freshness_policies(tmp_path) == dict.fromkeys(DEADLINE_ASSETS, expected)


def test_a_deadline_not_after_the_scheduled_run_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "firm").mkdir()
    (tmp_path / "firm" / "operations.yaml").write_text(
        "schedule_time: '07:00'\ndesk_deadline: '06:30'\n"
    )
    with pytest.raises(ValueError, match="desk_deadline 06:30:00 is not after schedule_time"):
        load_operations_config(tmp_path)
