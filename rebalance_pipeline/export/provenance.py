"""What a batch was computed from: the SHA-256 of every input read and the code version.

Recorded in every manifest (``provenance``); only content-derived values, so the same
inputs and code give the same manifest bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import subprocess
from importlib import metadata
from pathlib import Path

import polars as pl

PACKAGE = "rebalance-pipeline"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = "unknown"


def provenance(
    book_root: Path, source_files: pl.DataFrame, as_of: dt.date, policy_date: dt.date | None
) -> dict:
    """Fingerprints of the date's drops (``source_files``, tables.SOURCE_FILES), the firm
    files, the policy file in force (``policy_date``; null under the defaults), the
    review decisions of the date and the code."""
    firm = book_root / "firm"
    firm_files = sorted(p for p in firm.glob("*.csv") if p.is_file())
    decisions = sorted((firm / "review_decisions" / as_of.isoformat()).glob("*.csv"))
    policy_file = firm / "policy" / f"{policy_date.isoformat()}.yaml" if policy_date else None
    drops = source_files.filter(pl.col("sha256").is_not_null()).sort("source_file")
    return {
        "custodian_files": dict(drops.select("source_file", "sha256").iter_rows()),
        "firm_files": {_relative(p, book_root): _sha256(p) for p in firm_files},
        "review_decisions": {_relative(p, book_root): _sha256(p) for p in decisions},
        "policy_file": (
            {_relative(policy_file, book_root): _sha256(policy_file)}
            if policy_file is not None and policy_file.is_file()
            else {}
        ),
        "code_version": code_version(),
        "uv_lock_sha256": _sha256(PROJECT_ROOT / "uv.lock"),
    }


@functools.cache
def code_version() -> dict[str, str]:
    """The package version and the git commit of the checkout ("unknown" when not a repo)."""
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = UNKNOWN
    return {"package": version, "git_commit": _git_head()}


def _git_head() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else UNKNOWN


def _sha256(path: Path) -> str:
    if not path.is_file():
        return UNKNOWN
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
