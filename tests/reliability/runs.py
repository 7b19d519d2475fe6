"""Runs of ``rebalance run`` in a subprocess on a small generated book, killed or not, and
what they leave under ``$REBALANCE_HOME``: byte snapshots and integrity problems."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

from rebalance_pipeline.export.trade_files import MANIFEST, TRADE_FILE_COLUMNS
from rebalance_pipeline.generator import GeneratorConfig, generate_book

REBALANCE = Path(sys.executable).with_name("rebalance")
# small: a run is dominated by the stages' fixed costs, not by the accounts
SMALL_BOOK = GeneratorConfig(accounts=8, households=4, days=2, seed=11, fault_rate=0.0)
# outside the date's outputs: Dagster's own run storage and the GX data docs pages
NOT_OUTPUTS = ("dagster", "data_docs", "locks")
RUN_TIMEOUT = 600


def small_book(folder: Path) -> Path:
    generate_book(SMALL_BOOK, folder)
    return folder


def drop_dates(book: Path) -> list[dt.date]:
    return sorted(
        dt.date.fromisoformat(p.name) for p in (book / "drops").glob("????-??-??") if p.is_dir()
    )


def start_run(book: Path, home: Path, day: dt.date) -> subprocess.Popen:
    """``rebalance run`` of ``day`` in its own process group (steps in that process)."""
    home.mkdir(parents=True, exist_ok=True)
    log = (home.parent / f"{home.name}.log").open("ab")
    command = [str(REBALANCE), "run", "--book", str(book), "--date", day.isoformat()]
    return subprocess.Popen(
        [*command, "--executor", "in_process"],
        env={**os.environ, "REBALANCE_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def run_to_end(book: Path, home: Path, day: dt.date) -> None:
    process = start_run(book, home, day)
    code = process.wait(timeout=RUN_TIMEOUT)
    log = (home.parent / f"{home.name}.log").read_text(errors="replace")
    assert code == 0, f"rebalance run {day} exited {code}:\n{log[-3000:]}"


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the run and every process it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def kill_when(process: subprocess.Popen, seen: Callable[[], bool], timeout: float) -> bool:
    """Kill the run as soon as ``seen()`` holds (polled every few milliseconds); False if
    the run ended (or the timeout passed) first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if seen():
            kill_group(process)
            return True
        time.sleep(0.002)
    kill_group(process)
    return False


def kill_after(process: subprocess.Popen, seconds: float) -> bool:
    """Kill the run after ``seconds``; False if it had already ended."""
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        kill_group(process)
        return True


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """SHA-256 of every output file of the home (relative path -> digest)."""

    files: dict[str, str]

    @classmethod
    def of(cls, home: Path) -> Snapshot:
        return cls({str(path.relative_to(home)): _sha(path) for path in _outputs(home)})

    def released(self) -> dict[str, str]:
        """The released batch and the ledger: trade folders outside replays."""
        return {
            name: digest
            for name, digest in self.files.items()
            if name.startswith("ledger/") or (name.startswith("trades/") and "/replay-" not in name)
        }

    def differences(self, other: Snapshot) -> list[str]:
        names = sorted(set(self.files) | set(other.files))
        return [n for n in names if self.files.get(n) != other.files.get(n)]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _outputs(home: Path) -> list[Path]:
    """Every non-hidden file under ``trades/``, ``ledger/`` and ``warehouse/``."""
    return sorted(
        path
        for top in ("trades", "ledger", "warehouse")
        for path in (home / top).rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.parts)
    )


def integrity_problems(home: Path) -> list[str]:
    """Every file a reader could open that is partial or corrupt, every temporary file
    under a visible name, and every manifest whose files do not match it."""
    problems = []
    for path in sorted(home.rglob("*")):
        relative = path.relative_to(home)
        if not path.is_file() or relative.parts[0] in NOT_OUTPUTS:
            continue
        if path.name.startswith("."):
            continue  # hidden: a temporary file no reader opens
        problem = _file_problem(path)
        if problem:
            problems.append(f"{relative}: {problem}")
    return problems + _manifest_problems(home) + _catalog_problems(home)


def _file_problem(path: Path) -> str | None:
    if ".tmp" in path.name:
        return "a temporary file under a visible name"
    try:
        if path.suffix == ".parquet":
            pl.read_parquet(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".csv":
            return _csv_problem(path)
    except Exception as error:
        return f"unreadable: {error}"
    return None


def _csv_problem(path: Path) -> str | None:
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    if not rows:
        return "empty"
    if "_trades_" in path.name and rows[0] != TRADE_FILE_COLUMNS:
        return f"header {rows[0]}"
    ragged = [i for i, row in enumerate(rows[1:], 2) if len(row) != len(rows[0])]
    return f"lines {ragged} do not have the header's width" if ragged else None


def _manifest_problems(home: Path) -> list[str]:
    problems = []
    for manifest in sorted((home / "trades").rglob(MANIFEST)):
        record = json.loads(manifest.read_text())
        for file in record["files"]:
            path = manifest.parent / file["name"]
            if not path.exists() or _sha(path) != file["sha256"]:
                problems.append(f"{path.relative_to(home)}: does not match its manifest")
    for entry in sorted((home / "ledger").glob("????-??-??/*.json")):
        batch = json.loads(entry.read_text())["batch_id"]
        manifests = (home / "trades" / entry.parent.name).rglob(MANIFEST)
        if not any(json.loads(m.read_text())["batch_id"] == batch for m in manifests):
            problems.append(f"{entry.relative_to(home)}: released batch without trade files")
    return problems


def _catalog_problems(home: Path) -> list[str]:
    path = home / "catalog.duckdb"
    if not path.exists():
        return []
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            views = con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
            for (view,) in views:
                con.execute(f'SELECT count(*) FROM "{view}"').fetchone()
    except Exception as error:
        return [f"catalog.duckdb: {error}"]
    return []


def temporary_files(home: Path) -> list[str]:
    """Temporary files left anywhere among the outputs (hidden or not)."""
    return sorted(
        str(path.relative_to(home))
        for path in home.rglob("*.tmp*")
        if path.relative_to(home).parts[0] not in ("dagster",)
    )


def released_rows(home: Path, day: dt.date) -> set[tuple[str, ...]]:
    """The rows of the date's released trade files (replays left out)."""
    folder = home / "trades" / day.isoformat()
    rows = set()
    for path in folder.rglob("*_trades_*.csv"):
        if any(part.startswith("replay-") for part in path.relative_to(folder).parts):
            continue
        rows |= {tuple(row) for row in list(csv.reader(path.read_text().splitlines()))[1:]}
    return rows
