"""The sample book's outputs of its latest date, byte for byte, against a committed
snapshot of their SHA-256: the trade files and manifest, the release ledger entry and
every stored Parquet table of the date (routing decisions, review queue, review
outcomes...). A change of code that should not change behaviour (a refactor) must leave
``tests/snapshots/sample_outputs.txt`` as it is.

The run is the suite's one shared materialization (``sample_run`` in conftest.py). The
manifest records the checkout's git commit (``provenance.code_version.git_commit``),
which every commit changes: it is replaced by a fixed text before hashing, in the
manifest and in the ``trade_files`` table that records the manifest's SHA-256.

After an intended change of outputs (or of the sample book):
``REBALANCE_UPDATE_SNAPSHOT=1 pytest tests/test_sample_outputs_snapshot.py`` rewrites the
snapshot; commit it with the change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl
from snapshot_compare import assert_matches_snapshot

from rebalance_pipeline import storage
from rebalance_pipeline.export.trade_files import MANIFEST

SNAPSHOT = Path(__file__).parent / "snapshots" / "sample_outputs.txt"
ANY_COMMIT = "<git commit>"


def output_files(home: Path, day: dt.date) -> list[Path]:
    """Every file the date's run wrote: trade files (releases, replays), ledger entries,
    the warehouse partitions. Dagster's own records, the data docs and the catalog are
    not outputs of the pipeline's logic (they hold run ids and times)."""
    date = day.isoformat()
    found = [
        *(home / "trades" / date).rglob("*"),
        *(home / "ledger" / date).rglob("*"),
        *storage.warehouse(home).glob(f"*/{storage.PARTITION_COLUMN}={date}/*"),
    ]
    return sorted(path for path in found if path.is_file())


def fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes, the git commit of a manifest made neutral."""
    if path.name == MANIFEST:
        return _sha256(_neutral_manifest(path))
    if path.parent.parent.name == "trade_files":
        return _sha256(_neutral_trade_files(path).write_csv().encode())
    return _sha256(path.read_bytes())


def _neutral_manifest(path: Path) -> bytes:
    record = json.loads(path.read_text())
    if record.get("provenance"):
        record["provenance"]["code_version"]["git_commit"] = ANY_COMMIT
    return json.dumps(record, indent=2, sort_keys=True).encode()


def _neutral_trade_files(path: Path) -> pl.DataFrame:
    """The stored list of the batch's files, each manifest's SHA-256 that of the manifest
    with a neutral commit."""
    frame = pl.read_parquet(path)
    home = path.parents[3]
    manifests = {
        row["file"]: _sha256(_neutral_manifest(home / row["file"]))
        for row in frame.iter_rows(named=True)
        if row["file"].endswith(MANIFEST)
    }
    return frame.with_columns(
        pl.col("file").replace_strict(manifests, default=pl.col("sha256")).alias("sha256")
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render(home: Path, day: dt.date) -> str:
    lines = [f"# sha256  file (home-relative) of the sample book's run of {day.isoformat()}"]
    for path in output_files(home, day):
        lines.append(f"{fingerprint(path)}  {path.relative_to(home).as_posix()}")
    return "\n".join(lines) + "\n"


def test_the_sample_outputs_match_their_snapshot(materialized_sample: tuple[Path, dt.date]):
    home, day = materialized_sample
    assert_matches_snapshot(render(home, day), SNAPSHOT, "the sample book's outputs")
