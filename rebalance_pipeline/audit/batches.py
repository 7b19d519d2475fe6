"""The trade-file batches written for a date, read back from ``trades/YYYY-MM-DD/``.

The export keeps every batch of a date (see ``export/README.md``): the first one in the
date's folder, later ones with other content in ``batch-<id>/``, and the order of
replacements in ``superseded_by.json``. The audit reads them as plain text so a batch
is compared exactly as it was written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.export.trade_files import MANIFEST, SUPERSEDED, TRADE_FILE_COLUMNS


class AuditError(ValueError):
    """A question the stored artifacts cannot answer (unknown account, date, batch)."""


@dataclasses.dataclass(frozen=True)
class Batch:
    batch_id: str
    folder: Path
    supersedes: str | None
    kind: str  # run | review (trades a reviewer approved later, added to the run's)
    rows: pl.DataFrame  # TRADE_FILE_COLUMNS as written (strings) plus ``file``
    mismatched_files: list[str]  # files whose bytes no longer match the manifest


def trades_folder(day: dt.date, home: Path | None = None) -> Path:
    return (home or storage.home()) / "trades" / day.isoformat()


def batch_folders(day: dt.date, home: Path | None = None) -> dict[str, Path]:
    """Every batch of the date and its folder, in the order written: the first batch,
    its replacements (``superseded_by.json``), then review batches and replays
    (``batch-<id>/``, ``replay-<id>/``) by name."""
    folder = trades_folder(day, home)
    manifests = [folder / MANIFEST, *sorted(folder.glob(f"*/{MANIFEST}"))]
    found = {
        json.loads(path.read_text())["batch_id"]: path.parent for path in manifests if path.exists()
    }
    chain_path = folder / SUPERSEDED
    chain = json.loads(chain_path.read_text()) if chain_path.exists() else []
    order = [step["superseded_by"] for step in chain]
    first = [batch for batch, path in found.items() if path == folder]
    ranked = first + [b for b in order if b in found] + sorted(found)
    return {batch: found[batch] for batch in dict.fromkeys(ranked)}


def batch_ids(day: dt.date, home: Path | None = None) -> list[str]:
    return list(batch_folders(day, home))


def current_batch_id(day: dt.date, home: Path | None = None) -> str | None:
    """The batch the date's latest materialization wrote (trade_files table), else the
    last replacement on disk, else None when the date has no trade files."""
    path = storage.partition_file("trade_files", day, home)
    if path.exists():
        written = pl.read_parquet(path)["batch_id"].unique().to_list()
        if len(written) == 1:
            return written[0]
    ids = batch_ids(day, home)
    return ids[-1] if ids else None


def review_batches(day: dt.date, home: Path | None = None) -> list[Batch]:
    """The date's released review batches, in the order written."""
    batches = [read_batch(day, batch_id, home) for batch_id in batch_ids(day, home)]
    return [batch for batch in batches if batch.kind == "review"]


def read_batch(day: dt.date, batch_id: str, home: Path | None = None) -> Batch:
    """The rows of one batch of the date, checked against its manifest."""
    known = batch_folders(day, home)
    if batch_id not in known:
        listed = ", ".join(known) or "none"
        raise AuditError(f"no batch {batch_id!r} on {day.isoformat()} (batches: {listed})")
    batch_folder = known[batch_id]
    manifest = json.loads((batch_folder / MANIFEST).read_text())
    frames, mismatched = [], []
    for file in manifest["files"]:
        path = batch_folder / file["name"]
        data = path.read_bytes() if path.exists() else b""
        if hashlib.sha256(data).hexdigest() != file["sha256"]:
            mismatched.append(file["name"])
        if data:
            rows = pl.read_csv(data, infer_schema=False, empty_string_is_null=False)
            frames.append(rows.with_columns(pl.lit(file["name"]).alias("file")))
    empty = pl.DataFrame(schema={name: pl.String for name in [*TRADE_FILE_COLUMNS, "file"]})
    rows = pl.concat([empty, *frames], how="diagonal_relaxed").select(empty.columns)
    return Batch(
        batch_id=batch_id,
        folder=batch_folder,
        supersedes=manifest.get("supersedes"),
        kind=manifest.get("kind", "run"),
        rows=rows.sort("account_id", "side", "security_id", "lot_id"),
        mismatched_files=mismatched,
    )
