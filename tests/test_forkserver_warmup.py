"""The forkserver's warm-up: importing it runs a throwaway job and leaves nothing
behind (no thread a fork could inherit half-way, no file, nothing in the real homes),
and a warm-up that cannot run never stops the forkserver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rebalance_pipeline.executor import PRELOADED_MODULES

WARMUP = "rebalance_pipeline.forkserver_warmup"
IMPORT_AND_REPORT = f"""
import threading
import {WARMUP}
print(sorted(thread.name for thread in threading.enumerate()))
"""
NO_TEMPORARY_FOLDER = """
import tempfile
def refuse(*args, **kwargs):
    raise OSError("no temporary folder")
tempfile.TemporaryDirectory = refuse
"""


def import_warmup(tmp_path: Path, before: str = "") -> subprocess.CompletedProcess:
    homes = {"REBALANCE_HOME": tmp_path / "home", "DAGSTER_HOME": tmp_path / "dagster"}
    for home in homes.values():
        home.mkdir()
    environment = os.environ | {name: str(path) for name, path in homes.items()}
    environment["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    return subprocess.run(
        [sys.executable, "-c", before + IMPORT_AND_REPORT],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )


def test_the_warmup_is_preloaded_after_every_module_it_uses():
    assert PRELOADED_MODULES[-1] == WARMUP


def test_the_warmup_leaves_no_thread_no_file_and_the_homes_untouched(tmp_path: Path):
    done = import_warmup(tmp_path)
    assert done.stdout.split() == ["['MainThread']"]
    assert "start cold" not in done.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_warmup_that_cannot_run_only_warns(tmp_path: Path):
    done = import_warmup(tmp_path, before=NO_TEMPORARY_FOLDER)
    assert done.stdout.split() == ["['MainThread']"]
    assert "step processes start cold: no temporary folder" in done.stderr
