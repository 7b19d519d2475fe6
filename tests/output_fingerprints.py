"""A date's outputs as the SHA-256 of each file the run wrote, so two runs (a snapshot, or
another executor, another home) compare byte for byte. The manifest records the
checkout's git commit (``provenance.code_version.git_commit``), which every commit
changes: it is replaced by a fixed text before hashing, in the manifest and in the
``trade_files`` table that records the manifest's SHA-256."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.export.trade_files import MANIFEST

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


def fingerprints(home: Path, day: dt.date) -> dict[str, str]:
    """Home-relative path -> fingerprint of every output file of the date."""
    return {
        path.relative_to(home).as_posix(): fingerprint(path) for path in output_files(home, day)
    }
