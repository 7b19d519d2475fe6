"""The Definitions rendered as text and compared with a committed snapshot, so that any
change to the asset graph (keys, groups, dependencies, partitions, checks, freshness
policies, jobs, schedules, sensors) shows in review as a diff of
``tests/snapshots/definitions.txt``.

After an intended change: ``REBALANCE_UPDATE_SNAPSHOT=1 pytest tests/test_definitions_snapshot.py``
rewrites the snapshot; commit it with the change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster._core.definitions.freshness import CronFreshnessPolicy
from snapshot_compare import assert_matches_snapshot

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.txt"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
RENDER = (
    "from rebalance_pipeline.definitions import defs\n"
    "from test_definitions_snapshot import render\n"
    "print(render(defs), end='')"
)


def render(defs: dg.Definitions) -> str:
    graph = defs.resolve_asset_graph()
    lines = ["# assets: key [group] kinds partitions <- dependencies"]
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        partitions = _partitions(node.partitions_def)
        kinds = ",".join(sorted(node.kinds)) or "-"
        deps = ", ".join(sorted(k.to_user_string() for k in node.parent_keys)) or "-"
        lines.append(f"{key.to_user_string()} [{node.group_name}] {kinds} {partitions} <- {deps}")
        if node.freshness_policy is not None:
            lines.append(f"  freshness {_freshness(node.freshness_policy)}")
        for check in sorted(node.check_keys, key=lambda k: k.name):
            spec = graph.get_check_spec(check)
            blocking = " (blocking)" if spec.blocking else ""
            lines.append(f"  check {check.name}{blocking}")
    lines.append("# jobs")
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        selected = len(job.asset_layer.selected_asset_keys)
        lines.append(f"{job.name}: {selected} assets")
    lines.append("# schedules")
    for schedule in sorted(defs.schedules or [], key=lambda s: s.name):
        lines.append(f"{schedule.name}: {schedule.cron_schedule} {schedule.execution_timezone}")
    lines.append("# sensors")
    for sensor in sorted(defs.sensors or [], key=lambda s: s.name):
        lines.append(f"{sensor.name}: {sensor.default_status.value}")
    return "\n".join(lines) + "\n"


def _freshness(policy: dg.FreshnessPolicy) -> str:
    if isinstance(policy, CronFreshnessPolicy):
        return (
            f"deadline {policy.deadline_cron} {policy.timezone}, "
            f"materialized within {policy.lower_bound_delta} before"
        )
    return repr(policy)


def _partitions(definition: dg.PartitionsDefinition | None) -> str:
    if definition is None:
        return "unpartitioned"
    if isinstance(definition, dg.TimeWindowPartitionsDefinition):
        excluded = len(definition.exclusions or [])
        return f"daily from {definition.start:%Y-%m-%d} less {excluded} exclusions"
    return type(definition).__name__


def test_the_definitions_match_their_snapshot():
    """Rendered by a fresh interpreter loaded with the sample book: the partitions start at
    the first drop date of the book the definitions were first loaded with, and in this
    process another test's book may have been first."""
    rendered = subprocess.run(
        [sys.executable, "-c", RENDER],
        cwd=Path(__file__).parent,
        env={**os.environ, "REBALANCE_BOOK": str(SAMPLE)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert_matches_snapshot(rendered, SNAPSHOT, "the Definitions")
