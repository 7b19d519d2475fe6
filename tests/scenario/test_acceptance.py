"""Every acceptance book in ../shared/acceptance/scenarios, judged by its own check.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rebalance_pipeline.scenario import run_scenario

ACCEPTANCE = Path(
    os.environ.get(
        "REBALANCE_ACCEPTANCE_DIR", Path(__file__).resolve().parents[2].parent / "shared/acceptance"
    )
)
SCENARIOS = sorted((ACCEPTANCE / "scenarios").glob("*.yaml"))


@pytest.mark.skipif(not SCENARIOS, reason=f"no acceptance scenarios under {ACCEPTANCE}")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_passes_its_checker(scenario: Path, tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    result.write_text(json.dumps(run_scenario(scenario)))
    check = subprocess.run(
        [sys.executable, str(ACCEPTANCE / "check.py"), str(scenario), str(result)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
